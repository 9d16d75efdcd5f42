{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='cdr_day',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
        pre_hook="{{ genesys_finance.matching_pre_hook() }}",
    )
}}

-- Every (CDR, leg) pair that could be the same call, with how it would match and how good the
-- match is; `int_cdr_leg_matches` keeps one leg per CDR. Methods, tried in this order, each only
-- for the CDRs the previous ones left unmatched:
--   1. `call_id`: the CDR's Call-ID hash equals the leg's `protocolCallId` hash.
--   2. `call_id_normalised`: equal after normalising both Call-IDs before hashing (surrounding
--      whitespace, angle brackets, a `@host` part, the letter case of hex ids:
--      `genesys_finance.call_ids.normalise_call_id`); read when the loaders provide the column.
--   3. `time_and_number`: a leg no Call-ID matched, of the CDR's carrier (the leg's carrier hint)
--      and direction, with the same org number (clear when both sides have it; always its last 4
--      digits and rating prefix) and the same counterparty last 4 digits and rating prefix, whose
--      answer instant is within `genesys_finance_match_start_tolerance_ms` of the CDR's start and
--      whose answered duration is within `genesys_finance_match_duration_tolerance_ms` of the
--      CDR's. Ranked by |start difference|, then |duration difference|. Off with var
--      `genesys_finance_match_fallback: false` (every carrier sends Call-IDs; also how the
--      benchmark times the fallback apart from the Call-ID matching).
-- A CDR no method pairs has one row with no leg, so every CDR is here (its day, its load).
--
-- Incremental by the CDR's UTC day (`cdr_day`, dbt's delete+insert: a day's rows are replaced as a
-- whole; every CDR having a row, a reprocessed day with CDRs always has rows). A run reprocesses
-- the days whose matching may have changed (`touched_days`): the days of CDRs loaded since the last
-- run; the day before, of and after each changed leg's answer (the start tolerance is far below a
-- day); the days of the CDRs a changed conversation's legs were candidates of; the days of CDRs
-- whose Call-ID a changed leg carries; the day before, of and after each leg whose Call-ID a new
-- CDR carries (its leaving the fallback changes its neighbours' candidates). For the CDRs of those
-- days it pairs against every leg by Call-ID and against the legs of the days around them by time
-- and number; a leg's pairing by Call-ID with a CDR of another day is read from this model's rows
-- (exact: that day would have been reprocessed had it changed). docs/internals.md has the proof.

{%- set start_tolerance_ms = var('genesys_finance_match_start_tolerance_ms') %}
{%- set duration_tolerance_ms = var('genesys_finance_match_duration_tolerance_ms') %}
{%- set fallback = var('genesys_finance_match_fallback') %}
{%- if start_tolerance_ms | int >= 86400000 %}
    {{ exceptions.raise_compiler_error(
        "genesys_finance_match_start_tolerance_ms must be under a day: the incremental matching "
        ~ "reprocesses the days around a change") }}
{%- endif %}
{%- do genesys_finance.conversation_batch() %}
{%- if is_incremental() %}
    {%- set legs_watermark = genesys_finance.newest_value('legs_extracted_through') %}
    {%- set cdrs_watermark = genesys_finance.newest_value('cdr_loaded_at') %}
{%- endif %}

with

all_voice_legs as {{ not_materialized() }} (
    select
        leg_id,
        conversation_id,
        extracted_at,
        {{ utc_day('answered_at') }} as leg_day,
        sip_call_id,
        {{ column_if_present(ref('int_voice_legs'), 'sip_call_id_normalised', dbt.type_string()) }},
        direction,
        answered_at,
        answered_duration_ms,
        ani_last4,
        ani_prefix,
        dnis_last4,
        dnis_prefix,
        {{ column_if_present(ref('int_voice_legs'), 'ani_org_number', dbt.type_string()) }},
        {{ column_if_present(ref('int_voice_legs'), 'dnis_org_number', dbt.type_string()) }}
    from {{ ref('int_voice_legs') }}
),

{% if is_incremental() %}
all_cdrs as {{ not_materialized() }} (
    select
        cdr_id,
        sip_call_id,
        {{ column_if_present(ref('stg_carrier__cdrs'), 'sip_call_id_normalised', dbt.type_string()) }},
        {{ utc_day('coalesce(answer_time, start_time)') }} as cdr_day,
        loaded_at
    from {{ ref('stg_carrier__cdrs') }}
),

-- what changed since the last run: CDRs loaded, legs (re-)extracted, and their conversations
-- (a conversation may have lost legs)
new_cdrs as (
    select * from all_cdrs
    where loaded_at > {{ cdrs_watermark }}
),

changed_legs as (
    select * from all_voice_legs
    where extracted_at > {{ legs_watermark }}
),

changed_conversations as (
    select conversation_id from {{ genesys_finance.conversation_batch() }}
    where extracted_at > {{ legs_watermark }}
),

changed_leg_days as (
    select leg_day from changed_legs
    union
    select leg_day from all_voice_legs
    where sip_call_id in (select new_cdrs.sip_call_id from new_cdrs)
    union
    select leg_day from all_voice_legs
    where sip_call_id_normalised in (select new_cdrs.sip_call_id_normalised from new_cdrs)
),

touched_days as (
    select cdr_day as touched_day from new_cdrs
    union
    select leg_day from changed_leg_days
    union
    select cast({{ dbt.dateadd('day', -1, 'leg_day') }} as date) from changed_leg_days
    union
    select cast({{ dbt.dateadd('day', 1, 'leg_day') }} as date) from changed_leg_days
    union
    select held.cdr_day from {{ this }} as held
    where held.conversation_id in (
            select changed_conversations.conversation_id from changed_conversations
        )
    union
    select all_cdrs.cdr_day from all_cdrs
    where all_cdrs.sip_call_id in (select changed_legs.sip_call_id from changed_legs)
    union
    select all_cdrs.cdr_day from all_cdrs
    where all_cdrs.sip_call_id_normalised in (
            select changed_legs.sip_call_id_normalised from changed_legs
        )
),

window_cdrs as (
    select * from all_cdrs
    where cdr_day in (select touched_days.touched_day from touched_days)
),
{% endif %}

-- the legs a CDR can pair with; incremental: those of the CDRs of the touched days, by Call-ID any
-- leg, by time the legs of the days around (the start tolerance is under a day)
voice_legs as (
    select * from all_voice_legs
    {% if is_incremental() -%}
        where leg_day in (select touched_days.touched_day from touched_days)
            or leg_day in (
                select cast({{ dbt.dateadd('day', -1, 'touched_day') }} as date) from touched_days
            )
            or leg_day in (
                select cast({{ dbt.dateadd('day', 1, 'touched_day') }} as date) from touched_days
            )
            or sip_call_id in (select window_cdrs.sip_call_id from window_cdrs)
            or sip_call_id_normalised in (select window_cdrs.sip_call_id_normalised from window_cdrs)
    {%- endif %}
),

carrier_hints as (
    select
        leg_id,
        carrier_hint
    from {{ ref('int_voice_leg_carrier_candidates') }}
),

-- the org's side of a call is the dialled number inbound and the presented caller id outbound
legs as {{ not_materialized() }} (
    select
        voice_legs.leg_id,
        voice_legs.conversation_id,
        voice_legs.sip_call_id,
        voice_legs.sip_call_id_normalised,
        voice_legs.direction,
        carrier_hints.carrier_hint as carrier,
        voice_legs.answered_at,
        voice_legs.answered_duration_ms,
        case when voice_legs.direction = 'inbound' then voice_legs.dnis_org_number
            else voice_legs.ani_org_number
        end as org_number,
        case when voice_legs.direction = 'inbound' then voice_legs.dnis_last4
            else voice_legs.ani_last4
        end as org_last4,
        case when voice_legs.direction = 'inbound' then voice_legs.dnis_prefix
            else voice_legs.ani_prefix
        end as org_prefix,
        case when voice_legs.direction = 'inbound' then voice_legs.ani_last4
            else voice_legs.dnis_last4
        end as counterparty_last4,
        case when voice_legs.direction = 'inbound' then voice_legs.ani_prefix
            else voice_legs.dnis_prefix
        end as counterparty_prefix
    from voice_legs
    left join carrier_hints
        on voice_legs.leg_id = carrier_hints.leg_id
),

carrier_cdrs as (
    select
        cdr_id,
        sip_call_id,
        {{ column_if_present(ref('stg_carrier__cdrs'), 'sip_call_id_normalised', dbt.type_string()) }},
        carrier,
        direction,
        start_time,
        answer_time,
        end_time,
        carrier_duration_ms,
        calling_number_last4,
        calling_number_prefix,
        called_number_last4,
        called_number_prefix,
        {{ column_if_present(ref('stg_carrier__cdrs'), 'calling_number_org', dbt.type_string()) }},
        {{ column_if_present(ref('stg_carrier__cdrs'), 'called_number_org', dbt.type_string()) }},
        loaded_at
    from {{ ref('stg_carrier__cdrs') }}
    {% if is_incremental() -%}
        where cdr_id in (select window_cdrs.cdr_id from window_cdrs)
    {%- endif %}
),

-- the carrier bills from answer to release: its answer instant when the file has one
cdrs as {{ not_materialized() }} (
    select
        cdr_id,
        sip_call_id,
        sip_call_id_normalised,
        carrier,
        direction,
        loaded_at,
        coalesce(answer_time, start_time) as billed_start,
        coalesce(
            carrier_duration_ms,
            {{ duration_ms('coalesce(answer_time, start_time)', 'end_time') }}
        ) as billed_duration_ms,
        case when direction = 'inbound' then called_number_org
            else calling_number_org
        end as org_number,
        case when direction = 'inbound' then called_number_last4
            else calling_number_last4
        end as org_last4,
        case when direction = 'inbound' then called_number_prefix
            else calling_number_prefix
        end as org_prefix,
        case when direction = 'inbound' then calling_number_last4
            else called_number_last4
        end as counterparty_last4,
        case when direction = 'inbound' then calling_number_prefix
            else called_number_prefix
        end as counterparty_prefix
    from carrier_cdrs
),

by_call_id as (
    select
        cdrs.cdr_id,
        legs.leg_id,
        'call_id' as match_method,
        1 as method_rank
    from cdrs
    inner join legs
        on cdrs.sip_call_id = legs.sip_call_id
),

by_normalised_call_id as (
    select
        cdrs.cdr_id,
        legs.leg_id,
        'call_id_normalised' as match_method,
        2 as method_rank
    from cdrs
    inner join legs
        on cdrs.sip_call_id_normalised = legs.sip_call_id_normalised
    where not exists (
            select 1 as paired from by_call_id
            where by_call_id.cdr_id = cdrs.cdr_id
        )
),

matched_by_call_id as (
    select
        cdr_id,
        leg_id
    from by_call_id
    union all
    select
        cdr_id,
        leg_id
    from by_normalised_call_id
    {% if is_incremental() -%}
    -- the Call-ID pairs of the CDRs of other days, as this model holds them
    union all
    select
        held.cdr_id,
        held.leg_id
    from {{ this }} as held
    where held.match_method in ('call_id', 'call_id_normalised')
        and held.cdr_day not in (select touched_days.touched_day from touched_days)
    {%- endif %}
),

-- legs and CDRs a Call-ID already paired are out of the fallback: it never re-pairs them
unpaired_legs as (
    select legs.*
    from legs
    where legs.answered_at is not null
        and legs.answered_duration_ms > 0
        and not exists (
            select 1 as paired from matched_by_call_id
            where matched_by_call_id.leg_id = legs.leg_id
        )
),

unpaired_cdrs as (
    select cdrs.*
    from cdrs
    where not exists (
            select 1 as paired from matched_by_call_id
            where matched_by_call_id.cdr_id = cdrs.cdr_id
        )
),

by_time_and_number as (
    select
        unpaired_cdrs.cdr_id,
        unpaired_legs.leg_id,
        'time_and_number' as match_method,
        3 as method_rank
    from unpaired_cdrs
    inner join unpaired_legs
        on unpaired_cdrs.carrier = unpaired_legs.carrier
            and unpaired_cdrs.direction = unpaired_legs.direction
            and unpaired_cdrs.org_last4 = unpaired_legs.org_last4
            and unpaired_cdrs.org_prefix = unpaired_legs.org_prefix
            and unpaired_cdrs.counterparty_last4 = unpaired_legs.counterparty_last4
            and unpaired_cdrs.counterparty_prefix = unpaired_legs.counterparty_prefix
    where {% if not fallback %}1 = 0 and {% endif %}(
        unpaired_cdrs.org_number is null
        or unpaired_legs.org_number is null
        or unpaired_cdrs.org_number = unpaired_legs.org_number
    )
    and {{ abs_ms(duration_ms('unpaired_legs.answered_at', 'unpaired_cdrs.billed_start')) }}
    <= {{ start_tolerance_ms }}
    and {{ abs_ms('unpaired_cdrs.billed_duration_ms - unpaired_legs.answered_duration_ms') }}
    <= {{ duration_tolerance_ms }}
),

pairs as (
    select * from by_call_id
    union all
    select * from by_normalised_call_id
    union all
    select * from by_time_and_number
),

measured as (
    select
        pairs.cdr_id,
        pairs.leg_id,
        pairs.match_method,
        pairs.method_rank,
        legs.conversation_id,
        {{ duration_ms('legs.answered_at', 'cdrs.billed_start') }} as start_diff_ms,
        cdrs.billed_duration_ms - legs.answered_duration_ms as duration_diff_ms
    from pairs
    inner join cdrs
        on pairs.cdr_id = cdrs.cdr_id
    inner join legs
        on pairs.leg_id = legs.leg_id
),

-- rank 1 is the CDR's best leg; a CDR whose best two are equally good is ambiguous
ranked as (
    select
        *,
        row_number() over (
            partition by cdr_id
            order by
                method_rank,
                {{ abs_ms('coalesce(start_diff_ms, 0)') }},
                {{ abs_ms('coalesce(duration_diff_ms, 0)') }},
                leg_id
        ) as candidate_rank,
        cast(count(*) over (
            partition by
                cdr_id,
                method_rank,
                {{ abs_ms('coalesce(start_diff_ms, 0)') }},
                {{ abs_ms('coalesce(duration_diff_ms, 0)') }}
        ) as bigint) as equally_good_candidates
    from measured
),

paired as (
    select
        cdr_id,
        leg_id,
        conversation_id,
        match_method,
        start_diff_ms,
        duration_diff_ms,
        candidate_rank,
        -- only the best candidate's ties make the CDR ambiguous
        max(case when candidate_rank = 1 then equally_good_candidates end)
            over (partition by cdr_id)
        > 1 as is_ambiguous
    from ranked
),

-- a CDR no method paired: one row without a leg
unpaired as (
    select
        cdrs.cdr_id,
        cast(null as {{ dbt.type_string() }}) as leg_id,
        cast(null as {{ dbt.type_string() }}) as conversation_id,
        cast(null as {{ dbt.type_string() }}) as match_method,
        cast(null as bigint) as start_diff_ms,
        cast(null as bigint) as duration_diff_ms,
        cast(null as bigint) as candidate_rank,
        false as is_ambiguous
    from cdrs
    where not exists (
            select 1 as candidate from measured
            where measured.cdr_id = cdrs.cdr_id
        )
),

unioned as (
    select * from paired
    union all
    select * from unpaired
),

final as (
    select
        ----------  ids
        unioned.cdr_id,
        unioned.leg_id,

        ---------- the pair
        cast(unioned.match_method as {{ dbt.type_string() }}) as match_method,
        cast(unioned.start_diff_ms as bigint) as start_diff_ms,
        cast(unioned.duration_diff_ms as bigint) as duration_diff_ms,
        cast(unioned.candidate_rank as bigint) as candidate_rank,
        unioned.is_ambiguous,

        ---------- incremental bookkeeping: the CDR's UTC day, the leg's conversation, what was read
        {{ utc_day('cdrs.billed_start') }} as cdr_day,
        unioned.conversation_id,
        cdrs.loaded_at as cdr_loaded_at,
        (select max(newest.extracted_at) as newest from {{ ref('int_voice_legs') }} as newest)
            as legs_extracted_through,
        {{ genesys_finance.built_at() }} as built_at
    from unioned
    inner join cdrs
        on unioned.cdr_id = cdrs.cdr_id
)

select * from final
