-- One row per leg and one per CDR that is not a leg's own: every leg and every CDR exactly once.
-- A leg row carries its own CDR (`int_cdr_leg_matches.leg_cdr_rank` = 1); the other CDRs are rows
-- of their own: a second CDR of a leg is `duplicate_cdr`, a CDR no leg claims (or claimed by two
-- equally good legs: `is_ambiguous`) is `orphan_cdr`.
--
-- A leg's discrepancy, first that applies (tolerances are vars, default 0):
--   never answered and no CDR                                  -> none
--   no CDR                                                     -> missing_cdr
--   not rated (unrated, unresolved_carrier, ongoing)           -> null: nothing to compare with
--   billed seconds - rated seconds >  seconds tolerance        -> duration_overbilled
--   billed seconds - rated seconds < -seconds tolerance        -> duration_underbilled
--   |billed rate - card rate| > rate tolerance, or
--   |billed amount - expected cost| > amount tolerance         -> rate_mismatch
--   else                                                       -> none
-- Amounts: expected = the leg's expected cost (null on CDR rows: nothing was expected), billed = the
-- CDR's amount, variance = billed - expected, a missing side counting 0 (null when the leg's
-- expected cost is unknown and it has a CDR). The billing day and period are the carrier's
-- (`billing_periods` lookup) at the CDR's start, or the leg's billing start when it has no CDR.

--
-- Incremental (`replace_rows`, macro `billing_reconciliation_replaced`): a run rebuilds the rows of
-- the legs re-rated or re-matched since its last run and of the CDRs whose candidates or match were
-- rebuilt (with the duplicates of those legs); the rows it replaces are those of the same legs and
-- CDRs, and the leg rows of conversations extracted since (a leg may have disappeared).

{{
    config(
        materialized='incremental',
        incremental_strategy='replace_rows',
        replaced_rows='billing_reconciliation_replaced',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}
{%- do genesys_finance.conversation_batch() %}

{%- set seconds_tolerance = var('genesys_finance_recon_seconds_tolerance') %}
{%- set rate_tolerance = var('genesys_finance_recon_rate_tolerance') %}
{%- set amount_tolerance = var('genesys_finance_recon_amount_tolerance') %}

with

{% if is_incremental() %}
touched_legs as (
    {{ finance_touched_legs() }}
),

touched_cdrs as (
    select rebuilt.cdr_id
    from {{ ref('int_cdr_leg_candidates') }} as rebuilt
    where {{ genesys_finance.built_since_last_run('rebuilt') }}
    union
    select rematched.cdr_id
    from {{ ref('int_cdr_leg_matches') }} as rematched
    where {{ genesys_finance.built_since_last_run('rematched') }}
),
{% endif %}

legs as (
    select * from {{ ref('int_voice_legs_rated') }}
    {% if is_incremental() -%}
        where leg_id in (select touched_legs.leg_id from touched_legs)
    {%- endif %}
),

matches as (
    select * from {{ ref('int_cdr_leg_matches') }}
    {% if is_incremental() -%}
        where leg_id in (select touched_legs.leg_id from touched_legs)
            or cdr_id in (select touched_cdrs.cdr_id from touched_cdrs)
    {%- endif %}
),

-- the conversation of a matched leg, for the CDR rows
leg_conversations as (
    select
        leg_id,
        conversation_id
    from {{ ref('int_voice_legs_rated') }}
    {% if is_incremental() -%}
        where leg_id in (select matches.leg_id from matches)
    {%- endif %}
),

ambiguous_cdrs as (
    select distinct cdr_id
    from {{ ref('int_cdr_leg_candidates') }}
    where is_ambiguous
    {% if is_incremental() -%}
        and cdr_id in (select touched_cdrs.cdr_id from touched_cdrs)
    {%- endif %}
),

cdrs as (
    select
        cdr_id,
        carrier,
        direction,
        invoice_id,
        currency,
        coalesce(answer_time, start_time) as billed_start,
        coalesce(
            carrier_duration_ms,
            {{ duration_ms('coalesce(answer_time, start_time)', 'end_time') }}
        ) as carrier_duration_ms,
        billed_seconds,
        rate_per_minute,
        billed_amount
    from {{ ref('stg_carrier__cdrs') }}
    {% if is_incremental() -%}
        -- this run's CDRs and those of its legs (their duplicates get rows again); one IN over a
        -- union: with `or` Postgres, misjudging the matches' count, tested each of 789k CDRs
        -- against them one by one (89 s of a 1M incremental run)
        where cdr_id in (
                select touched_cdrs.cdr_id from touched_cdrs
                union
                select matches.cdr_id from matches
            )
    {%- endif %}
),

billing_periods as (
    select
        cast(carrier as {{ dbt.type_string() }}) as carrier,
        cast(timezone as {{ dbt.type_string() }}) as timezone,
        cast(day_start_local as {{ dbt.type_string() }}) as day_start_local
    from {{ lookup('billing_periods') }}
),

leg_rows as (
    select
        'leg' as record_type,
        legs.extracted_at,
        legs.leg_id,
        legs.conversation_id,
        cdrs.cdr_id,
        legs.carrier,
        legs.carrier_source,
        legs.direction,
        legs.rating_status,
        matches.match_method,
        matches.start_diff_ms,
        matches.duration_diff_ms,
        false as is_ambiguous,
        coalesce(cdrs.billed_start, legs.billing_start) as billing_instant,
        legs.answered_duration_ms,
        cdrs.carrier_duration_ms,
        legs.rated_seconds as expected_seconds,
        cdrs.billed_seconds,
        legs.rate_per_minute as expected_rate_per_minute,
        cdrs.rate_per_minute as billed_rate_per_minute,
        legs.expected_cost as expected_amount,
        cdrs.billed_amount,
        coalesce(cdrs.currency, legs.currency) as currency,
        cdrs.invoice_id,
        case
            when cdrs.cdr_id is null and legs.answered_duration_ms = 0 then 'none'
            when cdrs.cdr_id is null and legs.answered_duration_ms > 0 then 'missing_cdr'
            when cdrs.cdr_id is null or legs.rating_status != 'rated' then null
            when cdrs.billed_seconds - legs.rated_seconds > {{ seconds_tolerance }}
                then 'duration_overbilled'
            when legs.rated_seconds - cdrs.billed_seconds > {{ seconds_tolerance }}
                then 'duration_underbilled'
            when abs(cdrs.rate_per_minute - legs.rate_per_minute) > {{ rate_tolerance }}
                then 'rate_mismatch'
            when abs(cdrs.billed_amount - legs.expected_cost) > {{ amount_tolerance }}
                then 'rate_mismatch'
            else 'none'
        end as discrepancy_type
    from legs
    left join matches
        on legs.leg_id = matches.leg_id
            and matches.leg_cdr_rank = 1
    left join cdrs
        on matches.cdr_id = cdrs.cdr_id
),

cdr_rows as (
    select
        'cdr' as record_type,
        cast(null as {{ type_timestamptz() }}) as extracted_at,
        matches.leg_id,
        leg_conversations.conversation_id,
        cdrs.cdr_id,
        cdrs.carrier,
        cast(case when matches.leg_id is not null then 'cdr' end as {{ dbt.type_string() }})
            as carrier_source,
        cdrs.direction,
        cast(null as {{ dbt.type_string() }}) as rating_status,
        matches.match_method,
        matches.start_diff_ms,
        matches.duration_diff_ms,
        ambiguous_cdrs.cdr_id is not null as is_ambiguous,
        cdrs.billed_start as billing_instant,
        cast(null as bigint) as answered_duration_ms,
        cdrs.carrier_duration_ms,
        cast(null as bigint) as expected_seconds,
        cdrs.billed_seconds,
        cast(null as {{ dbt.type_numeric() }}) as expected_rate_per_minute,
        cdrs.rate_per_minute as billed_rate_per_minute,
        cast(null as {{ dbt.type_numeric() }}) as expected_amount,
        cdrs.billed_amount,
        cdrs.currency,
        cdrs.invoice_id,
        case when matches.leg_id is not null then 'duplicate_cdr' else 'orphan_cdr' end
            as discrepancy_type
    from cdrs
    left join matches
        on cdrs.cdr_id = matches.cdr_id
    left join leg_conversations
        on matches.leg_id = leg_conversations.leg_id
    left join ambiguous_cdrs
        on cdrs.cdr_id = ambiguous_cdrs.cdr_id
    where matches.leg_id is null
        or matches.leg_cdr_rank > 1
),

unioned as (
    select * from leg_rows
    union all
    select * from cdr_rows
),

final as (
    select
        ----------  ids
        cast(
            unioned.record_type || ':' || coalesce(unioned.leg_id, unioned.cdr_id)
            || case when unioned.record_type = 'cdr' and unioned.leg_id is not null
                    then ':' || unioned.cdr_id
                else ''
            end as {{ dbt.type_string() }}
        )
            as reconciliation_id,
        cast(unioned.record_type as {{ dbt.type_string() }}) as record_type,
        unioned.leg_id,
        unioned.conversation_id,
        unioned.cdr_id,

        ---------- carrier, invoice and period
        unioned.carrier,
        unioned.carrier_source,
        unioned.invoice_id,
        {{ billing_date('unioned.billing_instant', 'billing_periods.timezone',
            'billing_periods.day_start_local') }} as billing_date,
        {{ billing_period(billing_date('unioned.billing_instant', 'billing_periods.timezone',
            'billing_periods.day_start_local')) }} as billing_period,
        unioned.billing_instant,

        ---------- properties
        unioned.direction,
        unioned.rating_status,
        cast(unioned.match_method as {{ dbt.type_string() }}) as match_method,
        unioned.is_ambiguous,
        cast(unioned.discrepancy_type as {{ dbt.type_string() }}) as discrepancy_type,

        ---------- durations (integer ms, whole seconds)
        unioned.start_diff_ms,
        unioned.duration_diff_ms,
        unioned.answered_duration_ms,
        unioned.carrier_duration_ms,
        unioned.expected_seconds,
        unioned.billed_seconds,
        unioned.billed_seconds - unioned.expected_seconds as seconds_variance,

        ---------- money (fixed point)
        cast(unioned.expected_rate_per_minute as decimal(18, 8)) as expected_rate_per_minute,
        cast(unioned.billed_rate_per_minute as decimal(18, 8)) as billed_rate_per_minute,
        cast(unioned.expected_amount as decimal(18, 6)) as expected_amount,
        cast(unioned.billed_amount as decimal(18, 6)) as billed_amount,
        cast(case
            when unioned.record_type = 'cdr' then unioned.billed_amount
            when unioned.billed_amount is null then 0 - unioned.expected_amount
            else unioned.billed_amount - unioned.expected_amount
        end as decimal(18, 6)) as variance_amount,
        unioned.currency,

        ---------- lineage
        unioned.extracted_at,
        {{ genesys_finance.built_at() }} as built_at
    from unioned
    left join billing_periods
        on unioned.carrier = billing_periods.carrier
)

select * from final
