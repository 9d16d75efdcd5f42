{{
    config(
        materialized='incremental',
        incremental_strategy='replace_conversations',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}

-- How a leg's cost is shared between queues (issue #12 "attributed by a documented rule"): each
-- queue's share is the leg's own answered time (its segments after answer: interact, hold, ...)
-- spent in that queue, in ms. A leg that never names a queue on an answered segment (an IVR-only
-- call, a never-answered attempt) goes whole to the queue `int_voice_legs` gives it (the
-- conversation's last queue; null when there is none). Division: the queue's own division, else the
-- conversation's. Wrap-up code: the conversation's (one per leg, as in `int_voice_legs`).
-- Incremental per conversation (`replace_conversations`, as `int_voice_legs`): a conversation's
-- shares change only with a new version of it. The queues' divisions are not watched: after a
-- queue moves to another division, build with `--full-refresh`.

with

legs as (
    select
        leg_id,
        conversation_id,
        session_id,
        queue_id,
        division_id,
        extracted_at
    from {{ ref('int_voice_legs') }}
    {{ conversation_batch_filter() }}
),

segments as (
    select
        conversation_id,
        session_id,
        queue_id,
        {{ duration_ms('segment_start', 'segment_end') }} as segment_ms
    from {{ ref('stg_genesys__segments') }}
    where queue_id is not null
        {% if is_incremental() -%}
            and conversation_id in (select legs.conversation_id from legs)
        {%- endif %}
        and segment_end is not null
        and segment_type not in ('dialing', 'contacting', 'alert')
),

queues as (
    select
        queue_id,
        division_id
    from {{ ref('stg_genesys__queues') }}
),

queue_time as (
    select
        legs.leg_id,
        segments.queue_id,
        cast(sum(segments.segment_ms) as bigint) as queue_ms
    from legs
    inner join segments
        on legs.conversation_id = segments.conversation_id
            and legs.session_id = segments.session_id
    group by 1, 2
    having sum(segments.segment_ms) > 0
),

shares as (
    select
        leg_id,
        queue_id,
        queue_ms as weight
    from queue_time
    union all
    select
        legs.leg_id,
        legs.queue_id,
        cast(1 as bigint) as weight
    from legs
    where not exists (
            select 1 as shared from queue_time
            where queue_time.leg_id = legs.leg_id
        )
),

final as (
    select
        shares.leg_id,
        legs.conversation_id,
        shares.queue_id,
        coalesce(queues.division_id, legs.division_id) as division_id,
        shares.weight,
        cast(sum(shares.weight) over (partition by shares.leg_id) as bigint) as leg_weight,
        -- the order remainder units are handed out in (largest remainder first, then this)
        cast(row_number() over (
            partition by shares.leg_id order by shares.weight desc, shares.queue_id asc
        ) as bigint) as share_rank,
        legs.extracted_at,
        {{ genesys_finance.built_at() }} as built_at
    from shares
    inner join legs
        on shares.leg_id = legs.leg_id
    left join queues
        on shares.queue_id = queues.queue_id
)

select * from final
