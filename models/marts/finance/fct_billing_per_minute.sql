-- Month x carrier x queue x division: minutes, true cost, billed amount, cost per minute. The month
-- is the carrier's billing period (`fct_billing_reconciliation.billing_period`: its invoice month,
-- e.g. Genesys Cloud Voice's runs from 07:00 UTC on the 1st), so each carrier's totals tie out with
-- its invoices. Every reconciliation row counts once: legs, duplicate CDRs (on their leg's
-- queues) and orphan CDRs (no queue, no division); a leg is split exactly between its queues
-- (`int_billing_per_minute_daily`, which does the work, incremental by billing day), so the parts
-- add up to the leg to the ms, second and micro-unit.
--
-- A table: the sum of the daily rows of each period (a few rows per carrier, queue and day), cheaper
-- to rebuild whole than to track.

with

daily as (
    select * from {{ ref('int_billing_per_minute_daily') }}
),

grouped as (
    select
        billing_period,
        carrier,
        queue_id,
        division_id,
        max(currency) as currency,
        sum(leg_count) as leg_count,
        sum(unpriced_leg_count) as unpriced_leg_count,
        sum(unmatched_or_duplicate_cdr_count) as unmatched_or_duplicate_cdr_count,
        sum(answered_ms) as answered_ms,
        sum(rated_seconds) as rated_seconds,
        sum(expected_micros) as expected_micros,
        sum(billed_micros) as billed_micros
    from daily
    group by 1, 2, 3, 4
),

final as (
    select
        ---------- grain
        billing_period,
        carrier,
        queue_id,
        division_id,
        currency,

        ---------- counts
        cast(leg_count as bigint) as leg_count,
        cast(unpriced_leg_count as bigint) as unpriced_leg_count,
        cast(unmatched_or_duplicate_cdr_count as bigint) as unmatched_or_duplicate_cdr_count,

        ---------- minutes
        cast(answered_ms as bigint) as answered_ms,
        cast(rated_seconds as bigint) as rated_seconds,
        {{ from_micros(div_half_up('rated_seconds * 1000000', '60')) }} as rated_minutes,

        ---------- money
        {{ from_micros('expected_micros') }} as true_cost,
        {{ from_micros('billed_micros') }} as billed_amount,
        {{ from_micros('billed_micros - expected_micros') }} as variance_amount,
        -- the whole case cast: an incremental run's new rows must carry the column's exact type
        cast(case
            when rated_seconds > 0
                then cast(
                        cast({{ div_half_up('expected_micros * 6000', 'rated_seconds') }} as decimal(18, 0))
                        * cast(0.00000001 as decimal(18, 8)) as decimal(18, 8)
                    )
        end as decimal(18, 8)) as cost_per_minute
    from grouped
)

select * from final
