-- `fct_revenue_attribution` by UTC day of the legs' billing start: the same shares, clients and
-- revenue, in integer units (ms, seconds, micro-units), so the mart adds up the days of a month
-- exactly. The rules are in the mart's header comment.
--
-- Incremental per day (`replace_rows`, macro `revenue_attribution_daily_replaced`): a run
-- recomputes the days of the conversations rebuilt in `fct_conversation_costs` since its last run
-- (a leg re-rated, re-shared or gone). Client contracts are not watched: after changing one,
-- build with `--full-refresh`.

{{
    config(
        materialized='incremental',
        incremental_strategy='replace_rows',
        replaced_rows='revenue_attribution_daily_replaced',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}
{%- do ref('fct_conversation_costs') %}
{%- do ref('int_time_spine_day') %}

with

legs as (
    select
        leg_id,
        billing_start,
        rating_status,
        coalesce(answered_duration_ms, 0) as answered_ms,
        {{ to_micros('coalesce(expected_cost, 0)') }} as expected_micros
    from {{ ref('int_voice_legs_rated') }}
    {% if is_incremental() -%}
        -- (legs without a billing start: the day-less row, rebuilt on every run)
        where billing_start is null
            or {{ utc_day('billing_start') }} in ({{ finance_conversation_days() }})
    {%- endif %}
),

shares as (
    select * from {{ ref('int_voice_leg_queue_shares') }}
),

contracts as (
    select * from {{ ref('int_client_contracts') }}
),

floored as (
    select
        legs.leg_id,
        legs.billing_start,
        legs.rating_status,
        legs.answered_ms,
        legs.expected_micros,
        shares.queue_id,
        shares.division_id,
        shares.share_rank,
        {{ alloc_floor('legs.answered_ms', 'shares.weight', 'shares.leg_weight') }} as ms_floor,
        {{ alloc_remainder('legs.answered_ms', 'shares.weight', 'shares.leg_weight') }} as ms_rest,
        {{ alloc_floor('legs.expected_micros', 'shares.weight', 'shares.leg_weight') }}
            as cost_floor,
        {{ alloc_remainder('legs.expected_micros', 'shares.weight', 'shares.leg_weight') }}
            as cost_rest
    from legs
    inner join shares
        on legs.leg_id = shares.leg_id
),

allocated as (
    select
        leg_id,
        billing_start,
        rating_status,
        queue_id,
        division_id,
        {{ alloc_exact('answered_ms', 'ms_floor', 'ms_rest', 'leg_id', 'share_rank') }}
            as answered_ms,
        {{ alloc_exact('expected_micros', 'cost_floor', 'cost_rest', 'leg_id', 'share_rank') }}
            as cost_micros
    from floored
),

-- the client the share's queue serves, else its division's (macros/finance/client_contracts.sql)
contract_candidates as (
    select
        allocated.leg_id,
        allocated.queue_id,
        contracts.client,
        contracts.price_per_minute,
        contracts.currency,
        contracts.min_seconds,
        contracts.increment_seconds,
        row_number() over (
            partition by allocated.leg_id, allocated.queue_id
            order by {{ contract_preference('contracts') }}
        ) as preference
    from allocated
    inner join contracts
        on {{ contract_serves('allocated', 'contracts', utc_day('allocated.billing_start')) }}
),

priced as (
    select
        allocated.*,
        contract_candidates.client,
        contract_candidates.price_per_minute,
        contract_candidates.currency,
        contract_candidates.min_seconds,
        contract_candidates.increment_seconds,
        {{ floor_div('allocated.answered_ms + 999', '1000') }} as billable_seconds
    from allocated
    left join contract_candidates
        on allocated.leg_id = contract_candidates.leg_id
            and allocated.queue_id = contract_candidates.queue_id
            and contract_candidates.preference = 1
),

client_seconds as (
    select
        *,
        case
            when client is null or billable_seconds = 0 then 0
            when billable_seconds <= min_seconds then min_seconds
            else min_seconds + {{ floor_div(
                'billable_seconds - min_seconds + increment_seconds - 1', 'increment_seconds') }}
                * increment_seconds
        end as client_billable_seconds
    from priced
),

-- revenue micro-units, half up: seconds x (price x 10^8) / 6000
revenue as (
    select
        *,
        case
            when client is null then 0
            else {{ div_half_up(
                'client_billable_seconds * ' ~ to_micros('price_per_minute * 100'), '6000') }}
        end as revenue_micros
    from client_seconds
),

grouped as (
    select
        {{ utc_day('billing_start') }} as billing_day,
        client,
        queue_id,
        max(currency) as currency,
        count(distinct leg_id) as leg_count,
        count(distinct case when rating_status != 'rated' then leg_id end) as unpriced_leg_count,
        sum(answered_ms) as answered_ms,
        sum(client_billable_seconds) as billable_seconds,
        sum(revenue_micros) as revenue_micros,
        sum(cost_micros) as cost_micros
    from revenue
    group by 1, 2, 3
),

final as (
    select
        billing_day,
        client,
        queue_id,
        currency,
        cast(leg_count as bigint) as leg_count,
        cast(unpriced_leg_count as bigint) as unpriced_leg_count,
        cast(answered_ms as bigint) as answered_ms,
        cast(billable_seconds as bigint) as billable_seconds,
        cast(revenue_micros as bigint) as revenue_micros,
        cast(cost_micros as bigint) as cost_micros,
        {{ genesys_finance.built_at() }} as built_at
    from grouped
)

select * from final
