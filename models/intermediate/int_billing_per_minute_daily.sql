-- `fct_billing_per_minute` by the carrier's billing day: the same split, in integer units (ms,
-- seconds, micro-units), so the mart adds up the days of a period exactly. Every reconciliation
-- row counts once, on its billing day: legs, duplicate CDRs (on their leg's queues) and orphan CDRs
-- (no queue, no division). A leg is shared between the queues it spent answered time in
-- (`int_voice_leg_queue_shares`); its ms, rated seconds, expected cost and billed amount are split
-- exactly by largest remainder (macros/finance/allocation.sql).
--
-- Incremental per billing day (`replace_rows`, macro `billing_per_minute_daily_replaced`): a run
-- recomputes the days a reconciliation row rebuilt since its last run is in or was in.

{{
    config(
        materialized='incremental',
        incremental_strategy='replace_rows',
        replaced_rows='billing_per_minute_daily_replaced',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}
{%- do ref('fct_conversation_costs') %}
{%- do ref('int_time_spine_day') %}

with

reconciliation as (
    select * from {{ ref('fct_billing_reconciliation') }}
    {% if is_incremental() -%}
        -- (rows without a billing instant: the day-less rows, rebuilt on every run)
        where billing_date is null
            or billing_date in ({{ billing_per_minute_days() }})
    {%- endif %}
),

shares as (
    select * from {{ ref('int_voice_leg_queue_shares') }}
),

lines as (
    select
        reconciliation.reconciliation_id,
        reconciliation.billing_date,
        reconciliation.billing_period,
        reconciliation.carrier,
        reconciliation.currency,
        reconciliation.record_type,
        reconciliation.leg_id,
        reconciliation.rating_status,
        shares.queue_id,
        shares.division_id,
        coalesce(shares.weight, 1) as weight,
        coalesce(shares.leg_weight, 1) as total_weight,
        coalesce(shares.share_rank, 1) as share_rank,
        coalesce(reconciliation.answered_duration_ms, 0) as answered_ms,
        coalesce(reconciliation.expected_seconds, 0) as rated_seconds,
        {{ to_micros('coalesce(reconciliation.expected_amount, 0)') }} as expected_micros,
        abs({{ to_micros('coalesce(reconciliation.billed_amount, 0)') }}) as billed_micros_abs,
        case when reconciliation.billed_amount < 0 then -1 else 1 end as billed_sign
    from reconciliation
    left join shares
        on reconciliation.leg_id = shares.leg_id
),

floored as (
    select
        *,
        {{ alloc_floor('answered_ms', 'weight', 'total_weight') }} as answered_ms_floor,
        {{ alloc_remainder('answered_ms', 'weight', 'total_weight') }} as answered_ms_rest,
        {{ alloc_floor('rated_seconds', 'weight', 'total_weight') }} as rated_seconds_floor,
        {{ alloc_remainder('rated_seconds', 'weight', 'total_weight') }} as rated_seconds_rest,
        {{ alloc_floor('expected_micros', 'weight', 'total_weight') }} as expected_floor,
        {{ alloc_remainder('expected_micros', 'weight', 'total_weight') }} as expected_rest,
        {{ alloc_floor('billed_micros_abs', 'weight', 'total_weight') }} as billed_floor,
        {{ alloc_remainder('billed_micros_abs', 'weight', 'total_weight') }} as billed_rest
    from lines
),

allocated as (
    select
        billing_date,
        billing_period,
        carrier,
        currency,
        queue_id,
        division_id,
        record_type,
        leg_id,
        rating_status,
        {{ alloc_exact('answered_ms', 'answered_ms_floor', 'answered_ms_rest',
            'reconciliation_id', 'share_rank') }} as answered_ms,
        {{ alloc_exact('rated_seconds', 'rated_seconds_floor', 'rated_seconds_rest',
            'reconciliation_id', 'share_rank') }} as rated_seconds,
        {{ alloc_exact('expected_micros', 'expected_floor', 'expected_rest',
            'reconciliation_id', 'share_rank') }} as expected_micros,
        billed_sign * {{ alloc_exact('billed_micros_abs', 'billed_floor', 'billed_rest',
            'reconciliation_id', 'share_rank') }} as billed_micros
    from floored
),

grouped as (
    select
        billing_date,
        billing_period,
        carrier,
        queue_id,
        division_id,
        max(currency) as currency,
        count(distinct case when record_type = 'leg' then leg_id end) as leg_count,
        count(distinct case when record_type = 'leg' and rating_status != 'rated' then leg_id end)
            as unpriced_leg_count,
        sum(case when record_type = 'cdr' then 1 else 0 end) as unmatched_or_duplicate_cdr_count,
        sum(answered_ms) as answered_ms,
        sum(rated_seconds) as rated_seconds,
        sum(expected_micros) as expected_micros,
        sum(billed_micros) as billed_micros
    from allocated
    group by 1, 2, 3, 4, 5
),

final as (
    select
        billing_date,
        billing_period,
        carrier,
        queue_id,
        division_id,
        currency,
        cast(leg_count as bigint) as leg_count,
        cast(unpriced_leg_count as bigint) as unpriced_leg_count,
        cast(unmatched_or_duplicate_cdr_count as bigint) as unmatched_or_duplicate_cdr_count,
        cast(answered_ms as bigint) as answered_ms,
        cast(rated_seconds as bigint) as rated_seconds,
        cast(expected_micros as bigint) as expected_micros,
        cast(billed_micros as bigint) as billed_micros,
        {{ genesys_finance.built_at() }} as built_at
    from grouped
)

select * from final
