-- Month x client x queue: billable minutes, revenue at the client's contract price, true cost,
-- margin = revenue - true cost. The month is the UTC calendar month of the leg's billing start
-- (the org bills its clients; carriers' invoice periods are in `fct_billing_per_minute`).
--
-- A leg is shared between its queues as in `fct_billing_per_minute` (`int_voice_leg_queue_shares`,
-- exact largest-remainder split of its answered ms and expected cost). A share's client is the
-- `client_contracts` row of its queue in force at the leg's billing start (UTC day), else the row
-- of its division with no queue (a queue row is the more specific and wins); none: client null,
-- no revenue. Revenue of a share: its answered ms to whole seconds (rounded up), the client's
-- minimum and increment applied (the rating rule's formula), times the price per minute, half-up
-- to 6 decimals per share. A leg that is not rated adds no true cost (counted in
-- `unpriced_leg_count`).
--
-- A table: the sum of the days of each month of `int_revenue_attribution_daily` (which does the
-- work, incremental by day), cheaper to rebuild whole than to track.

with

daily as (
    select * from {{ ref('int_revenue_attribution_daily') }}
),

grouped as (
    select
        -- `month`: the public column name (DESIGN.md)
        cast({{ dbt.date_trunc('month', 'billing_day') }} as date) as month,  -- noqa: RF04
        client,
        queue_id,
        max(currency) as currency,
        sum(leg_count) as leg_count,
        sum(unpriced_leg_count) as unpriced_leg_count,
        sum(answered_ms) as answered_ms,
        sum(billable_seconds) as billable_seconds,
        sum(revenue_micros) as revenue_micros,
        sum(cost_micros) as cost_micros
    from daily
    group by 1, 2, 3
),

final as (
    select
        ---------- grain
        month,
        client,
        queue_id,
        currency,

        ---------- counts and minutes
        cast(leg_count as bigint) as leg_count,
        cast(unpriced_leg_count as bigint) as unpriced_leg_count,
        cast(answered_ms as bigint) as answered_ms,
        cast(billable_seconds as bigint) as billable_seconds,
        {{ from_micros(div_half_up('billable_seconds * 1000000', '60')) }} as billable_minutes,

        ---------- money
        {{ from_micros('revenue_micros') }} as revenue,
        {{ from_micros('cost_micros') }} as true_cost,
        {{ from_micros('revenue_micros - cost_micros') }} as margin
    from grouped
)

select * from final
