{{ config(materialized='table') }}

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
--      CDR's. Ranked by |start difference|, then |duration difference|.

{%- set start_tolerance_ms = var('genesys_finance_match_start_tolerance_ms') %}
{%- set duration_tolerance_ms = var('genesys_finance_match_duration_tolerance_ms') %}

with

voice_legs as (
    select
        leg_id,
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

carrier_hints as (
    select
        leg_id,
        carrier_hint
    from {{ ref('int_voice_leg_carrier_candidates') }}
),

-- the org's side of a call is the dialled number inbound and the presented caller id outbound
legs as (
    select
        voice_legs.leg_id,
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
        {{ column_if_present(ref('stg_carrier__cdrs'), 'called_number_org', dbt.type_string()) }}
    from {{ ref('stg_carrier__cdrs') }}
),

-- the carrier bills from answer to release: its answer instant when the file has one
cdrs as (
    select
        cdr_id,
        sip_call_id,
        sip_call_id_normalised,
        carrier,
        direction,
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
    where (
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

final as (
    select
        cdr_id,
        leg_id,
        cast(match_method as {{ dbt.type_string() }}) as match_method,
        cast(start_diff_ms as bigint) as start_diff_ms,
        cast(duration_diff_ms as bigint) as duration_diff_ms,
        cast(candidate_rank as bigint) as candidate_rank,
        -- only the best candidate's ties make the CDR ambiguous
        max(case when candidate_rank = 1 then equally_good_candidates end)
            over (partition by cdr_id)
        > 1 as is_ambiguous
    from ranked
)

select * from final
