{{
    config(
        materialized='incremental',
        incremental_strategy='replace_conversations',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}

-- Every carrier-facing leg of `int_voice_legs`, with its carrier and its expected cost by the
-- DESIGN.md rating rule:
--   carrier      the matched CDR's carrier, else the hint of `int_voice_leg_carrier_candidates`
--                (org number, Edge, default var); none: `unresolved_carrier`, no cost.
--   rated number the called number (`dnis`) in both directions: when inbound, the org's DID the
--                customer dialled (in clear: its digits; the card tells toll-free from geographic
--                by it), when outbound, the customer's number (masked: its E.164 rating prefix).
--   rate row     carrier and direction, the longest `destination_prefix` that starts the rated
--                number ('' = fallback), in force on the UTC day of the billing start, its time
--                band (if any) holding the billing start in the band's own time zone (DST
--                included); ties: a banded row before an unbanded one, then the later
--                `effective_from`, then the band name. None: `unrated`, no cost.
--   cost         min/inc rounding, connection fee, half-up to 6 decimals; never answered: 0.
-- A time band holds a local instant when the instant's own local weekday is listed and its local
-- time of day is in [start, end), or, for a band whose end is at or before its start, in
-- [start, 24:00) or [00:00, end) of that same weekday.
--
-- Incremental, per conversation (`replace_conversations`): a run re-rates the conversations extracted
-- since the last run, and those with a leg whose CDR (carrier or match method) is not the one rated
-- last time (new CDR files, a match that became ambiguous). Lookups (rate cards, bands, DID carriers,
-- Edges, contracts) and DID pools are not watched: after changing one, build with `--full-refresh`.

with


candidates as (
    select
        leg_id,
        carrier_hint,
        carrier_hint_source
    from {{ ref('int_voice_leg_carrier_candidates') }}
),

-- the leg's CDR (`leg_cdr_rank` = 1); a second CDR of the same leg is a duplicate
cdr_matches as (
    select
        matches.leg_id,
        matches.match_method,
        cdrs.carrier
    from {{ ref('int_cdr_leg_matches') }} as matches
    inner join {{ ref('stg_carrier__cdrs') }} as cdrs
        on matches.cdr_id = cdrs.cdr_id
    where matches.leg_cdr_rank = 1
),

{% if is_incremental() %}
-- legs whose CDR carrier or match method differs from what this model rated them with
held_cdr_legs as (
    select leg_id, carrier, match_method
    from {{ this }}
    where carrier_source = 'cdr'
),

rematched_legs as (
    select coalesce(cdr_matches.leg_id, held_cdr_legs.leg_id) as leg_id
    from cdr_matches
    full outer join held_cdr_legs
        on cdr_matches.leg_id = held_cdr_legs.leg_id
    where cdr_matches.leg_id is null
        or held_cdr_legs.leg_id is null
        or cdr_matches.carrier <> held_cdr_legs.carrier
        or cdr_matches.match_method <> held_cdr_legs.match_method
),

batch_conversations as (
    select conversation_id
    from {{ ref('int_voice_legs') }}
    {{ conversation_batch_filter() }}
    union
    select all_legs.conversation_id
    from {{ ref('int_voice_legs') }} as all_legs
    inner join rematched_legs
        on all_legs.leg_id = rematched_legs.leg_id
),
{% endif %}

legs as (
    select * from {{ ref('int_voice_legs') }}
    {% if is_incremental() -%}
        where conversation_id in (select batch_conversations.conversation_id from batch_conversations)
    {%- else -%}
        {%- do conversation_batch() -%}
    {%- endif %}
),

rate_rows as (
    select * from {{ ref('int_rate_cards') }}
),

client_contracts as (
    select * from {{ ref('int_client_contracts') }}
),

resolved as (
    select
        legs.*,
        cdr_matches.match_method,
        coalesce(cdr_matches.carrier, candidates.carrier_hint) as carrier,
        case
            when cdr_matches.carrier is not null then 'cdr'
            else candidates.carrier_hint_source
        end as carrier_source,
        coalesce(legs.dnis_org_number, legs.dnis_prefix) as rated_number,
        {{ utc_date('legs.billing_start') }} as billing_day
    from legs
    left join candidates
        on legs.leg_id = candidates.leg_id
    left join cdr_matches
        on legs.leg_id = cdr_matches.leg_id
),

-- every prefix of the rated number, '' (the fallback) included: E.164 has at most 15 digits
prefix_lengths as (
    select lengths.prefix_length
    from (
        values (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15)
    ) as lengths (prefix_length)
),

leg_prefixes as (
    select
        resolved.leg_id,
        resolved.carrier,
        resolved.direction,
        resolved.billing_start,
        resolved.billing_day,
        substr(coalesce(resolved.rated_number, ''), 1, prefix_lengths.prefix_length)
            as candidate_prefix
    from resolved
    inner join prefix_lengths
        on prefix_lengths.prefix_length <= length(coalesce(resolved.rated_number, ''))
    where resolved.carrier is not null
        and resolved.billing_start is not null
),

rate_candidates as (
    select
        leg_prefixes.leg_id,
        rate_rows.*,
        {{ local_timestamp('leg_prefixes.billing_start', 'rate_rows.band_timezone') }} as band_local_start
    from leg_prefixes
    inner join rate_rows
        on leg_prefixes.carrier = rate_rows.carrier
            and leg_prefixes.direction = rate_rows.direction
            and leg_prefixes.candidate_prefix = rate_rows.destination_prefix
            and leg_prefixes.billing_day >= rate_rows.effective_from
            and (rate_rows.effective_to is null or leg_prefixes.billing_day < rate_rows.effective_to)
),

rate_in_band as (
    select
        *,
        row_number() over (
            partition by leg_id
            order by
                length(destination_prefix) desc,
                case when time_band is null then 1 else 0 end asc,
                effective_from desc,
                time_band asc
        ) as preference
    from rate_candidates
    where time_band is null
        or (
            band_iso_weekday = {{ iso_weekday('band_local_start') }}
            and (
                (
                    band_start_ms < band_end_ms
                    and {{ ms_of_day('band_local_start') }} >= band_start_ms
                    and {{ ms_of_day('band_local_start') }} < band_end_ms
                )
                or (
                    band_start_ms >= band_end_ms
                    and (
                        {{ ms_of_day('band_local_start') }} >= band_start_ms
                        or {{ ms_of_day('band_local_start') }} < band_end_ms
                    )
                )
            )
        )
),

applied_rates as (
    select *
    from rate_in_band
    where preference = 1
),

-- the client a leg's queue serves, else its division's (macros/finance/client_contracts.sql)
client_candidates as (
    select
        resolved.leg_id,
        client_contracts.client,
        row_number() over (
            partition by resolved.leg_id
            order by {{ contract_preference('client_contracts') }}
        ) as preference
    from resolved
    inner join client_contracts
        on {{ contract_serves('resolved', 'client_contracts', 'resolved.billing_day') }}
),

rated as (
    select
        resolved.*,
        applied_rates.destination_prefix,
        applied_rates.effective_from as rate_effective_from,
        applied_rates.rate_per_minute,
        applied_rates.currency,
        applied_rates.min_seconds,
        applied_rates.increment_seconds,
        applied_rates.connection_fee,
        applied_rates.time_band,
        case
            when resolved.is_ongoing then 'ongoing'
            when resolved.carrier is null then 'unresolved_carrier'
            when applied_rates.leg_id is null then 'unrated'
            else 'rated'
        end as rating_status,
        {{ billable_seconds('resolved.answered_duration_ms') }} as billable_seconds,
        client_candidates.client
    from resolved
    left join applied_rates
        on resolved.leg_id = applied_rates.leg_id
    left join client_candidates
        on resolved.leg_id = client_candidates.leg_id
            and client_candidates.preference = 1
),

priced as (
    select
        *,
        case
            when rating_status = 'rated'
                then {{ rated_seconds('billable_seconds', 'min_seconds', 'increment_seconds') }}
        end as rated_seconds
    from rated
),

final as (
    select
        ----------  ids
        leg_id,
        conversation_id,
        participant_id,
        sip_call_id,
        edge_id,

        ---------- carrier and status
        cast(carrier as {{ dbt.type_string() }}) as carrier,
        cast(carrier_source as {{ dbt.type_string() }}) as carrier_source,
        cast(rating_status as {{ dbt.type_string() }}) as rating_status,
        cast(match_method as {{ dbt.type_string() }}) as match_method,

        ---------- the leg
        direction,
        conversation_start,
        billing_start,
        answered_duration_ms,
        cast(rated_number as {{ dbt.type_string() }}) as rated_number,

        ---------- the rate row applied
        destination_prefix,
        rate_effective_from,
        rate_per_minute,
        currency,
        min_seconds,
        increment_seconds,
        connection_fee,
        time_band,

        ---------- seconds and cost
        cast(billable_seconds as bigint) as billable_seconds,
        cast(rated_seconds as bigint) as rated_seconds,
        cast(case
            when rating_status = 'rated'
                then {{ leg_cost('rated_seconds', 'rate_per_minute', 'connection_fee') }}
        end as {{ type_money() }}) as expected_cost,

        ---------- attribution keys
        queue_id,
        division_id,
        wrapup_code_id,
        cast(client as {{ dbt.type_string() }}) as client,

        ---------- lineage
        extracted_at,
        {{ genesys_finance.built_at() }} as built_at
    from priced
)

select * from final
