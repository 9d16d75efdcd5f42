with

conversations as (
    select * from {{ ref('stg_genesys__conversations') }}
    {{ conversation_batch_filter() }}
),

sessions as (
    select * from {{ ref('stg_genesys__sessions') }}
    {{ conversation_batch_filter() }}
),

-- read three times, each reader scans the table itself (see `not_materialized`)
segments as {{ not_materialized() }} (
    select
        conversation_id,
        session_id,
        segment_ordinal,
        segment_type,
        segment_start,
        segment_end,
        queue_id,
        wrapup_code_id
    from {{ ref('stg_genesys__segments') }}
    {{ conversation_batch_filter() }}
),

-- the PSTN side: acd, ivr and agent sessions carry call ids too, but no carrier bills them; a leg
-- without a SIP Call-ID (Genesys recorded no `protocolCallId`) still costs money and stays a leg
legs as (
    select *
    from sessions
    where media_type = 'voice'
        and participant_purpose in ('customer', 'external')
),

-- the legs' own segments (a fifth of all segments): the per-leg steps below read only these
leg_segment_rows as (
    select segments.*
    from segments
    inner join legs
        on segments.conversation_id = legs.conversation_id
            and segments.session_id = legs.session_id
),

leg_segments as (
    select
        conversation_id,
        session_id,
        min(segment_start) as leg_start,
        -- pre-answer segments do not count towards the billed duration
        min(case
            when segment_type not in ('dialing', 'contacting', 'alert')
                then segment_start
        end) as answered_at,
        max(segment_end) as leg_end,
        cast(count(*) as bigint) as segment_count,
        cast(sum(case when segment_end is null then 1 else 0 end) as bigint)
            as open_segment_count
    from leg_segment_rows
    group by 1, 2
),

-- the leg's own queue: its latest segment that names one
leg_queues as (
    select
        conversation_id,
        session_id,
        queue_id,
        row_number() over (
            partition by conversation_id, session_id
            order by segment_start desc, segment_ordinal desc
        ) as recency
    from leg_segment_rows
    where queue_id is not null
),

-- wrap-up is recorded on the agent's session: the conversation's last wrap-up code applies
conversation_wrapups as (
    select
        conversation_id,
        wrapup_code_id,
        row_number() over (
            partition by conversation_id
            order by segment_start desc, session_id desc, segment_ordinal desc
        ) as recency
    from segments
    where wrapup_code_id is not null
),

-- a leg that never named a queue (e.g. transferred out of the IVR) takes the conversation's last
conversation_queues as (
    select
        conversation_id,
        queue_id,
        row_number() over (
            partition by conversation_id
            order by segment_start desc, session_id desc, segment_ordinal desc
        ) as recency
    from segments
    where queue_id is not null
),

joined as (
    select
        ----------  ids
        legs.session_id as leg_id,
        legs.session_id,
        legs.participant_id,
        legs.conversation_id,
        legs.sip_call_id,
        legs.sip_call_id_normalised,
        legs.edge_id,
        coalesce(leg_queues.queue_id, conversation_queues.queue_id) as queue_id,
        conversation_wrapups.wrapup_code_id,
        conversations.division_id,

        ---------- properties
        legs.participant_purpose,
        legs.media_type,
        legs.direction,
        legs.provider,
        legs.ani_last4,
        legs.ani_prefix,
        legs.dnis_last4,
        legs.dnis_prefix,
        legs.ani_org_number,
        legs.dnis_org_number,

        ---------- timestamps
        conversations.conversation_start,
        leg_segments.leg_start,
        leg_segments.answered_at,
        leg_segments.leg_end,
        -- the instant that picks the rate row, time band and month: answered, else attempted
        coalesce(leg_segments.answered_at, leg_segments.leg_start) as billing_start,

        ---------- answered duration: first answered segment start to last segment end, unknown while ongoing
        (
            conversations.conversation_end is null
            or coalesce(leg_segments.open_segment_count, 0) > 0
        ) as is_ongoing,
        coalesce(leg_segments.segment_count, 0) as segment_count,
        case
            when conversations.conversation_end is null then null
            when coalesce(leg_segments.open_segment_count, 0) > 0 then null
            when leg_segments.answered_at is null then cast(0 as bigint)
            else {{ duration_ms('leg_segments.answered_at', 'leg_segments.leg_end') }}
        end as answered_duration_ms,

        ---------- lineage
        legs.extracted_at
    from legs
    inner join conversations
        on legs.conversation_id = conversations.conversation_id
    left join leg_segments
        on legs.conversation_id = leg_segments.conversation_id
            and legs.session_id = leg_segments.session_id
    left join leg_queues
        on legs.conversation_id = leg_queues.conversation_id
            and legs.session_id = leg_queues.session_id
            and leg_queues.recency = 1
    left join conversation_queues
        on legs.conversation_id = conversation_queues.conversation_id
            and conversation_queues.recency = 1
    left join conversation_wrapups
        on legs.conversation_id = conversation_wrapups.conversation_id
            and conversation_wrapups.recency = 1
)

select * from joined
