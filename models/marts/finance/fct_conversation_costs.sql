-- One row per conversation: its carrier legs, their true cost (expected cost of the rated legs),
-- what the carriers billed for them (every CDR matched to one of its legs, duplicates included),
-- and the handle metrics summed over the conversation's sessions. A conversation without a carrier
-- leg (chat, email, internal) costs 0 here. A leg that is not rated adds no cost and is counted in
-- `unpriced_leg_count`, so a partial total never passes for a full one.
--
-- Incremental per conversation (`replace_conversations`): a run rebuilds the conversations extracted
-- since its last run (their handle metrics), those with a leg re-rated and those with a
-- reconciliation row rebuilt (a CDR matched, lost or duplicated).

{{
    config(
        materialized='incremental',
        incremental_strategy='replace_conversations',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}

with

{% if is_incremental() %}
touched_conversations as (
    {{ conversations_extracted_since() }}
    union
    select rerated.conversation_id
    from {{ ref('int_voice_legs_rated') }} as rerated
    where {{ built_since_last_run('rerated') }}
    union
    select rebuilt.conversation_id
    from {{ ref('fct_billing_reconciliation') }} as rebuilt
    where {{ built_since_last_run('rebuilt') }}
        and rebuilt.conversation_id is not null
),
{% endif %}

conversations as (
    select
        conversation_id,
        division_id,
        conversation_start,
        conversation_end,
        originating_direction,
        extracted_at
    from {{ ref('stg_genesys__conversations') }}
    {% if is_incremental() -%}
        where conversation_id in (select touched_conversations.conversation_id from touched_conversations)
    {%- endif %}
),

legs as (
    select * from {{ ref('int_voice_legs_rated') }}
    {% if is_incremental() -%}
        where conversation_id in (select conversations.conversation_id from conversations)
    {%- endif %}
),

reconciliation as (
    select * from {{ ref('fct_billing_reconciliation') }}
    {% if is_incremental() -%}
        where conversation_id in (select conversations.conversation_id from conversations)
    {%- endif %}
),

metrics as (
    select
        conversation_id,
        sum(t_talk_ms) as t_talk_ms,
        sum(t_held_ms) as t_held_ms,
        sum(t_acw_ms) as t_acw_ms,
        sum(t_handle_ms) as t_handle_ms,
        sum(t_answered_ms) as t_answered_ms,
        sum(n_offered) as n_offered,
        sum(n_connected) as n_connected,
        sum(n_transferred) as n_transferred
    from {{ ref('int_session_metrics_pivoted') }}
    {% if is_incremental() -%}
        where conversation_id in (select conversations.conversation_id from conversations)
    {%- endif %}
    group by 1
),

leg_totals as (
    select
        conversation_id,
        count(*) as leg_count,
        sum(case when rating_status = 'rated' then 1 else 0 end) as rated_leg_count,
        sum(case when rating_status != 'rated' then 1 else 0 end) as unpriced_leg_count,
        sum(answered_duration_ms) as answered_duration_ms,
        sum(rated_seconds) as rated_seconds,
        sum(expected_cost) as true_cost,
        -- the conversation's last wrap-up code: the same on each of its legs
        max(wrapup_code_id) as wrapup_code_id
    from legs
    group by 1
),

billed_totals as (
    select
        conversation_id,
        sum(billed_amount) as billed_amount,
        sum(case when discrepancy_type not in ('none') then 1 else 0 end) as discrepancy_count
    from reconciliation
    where conversation_id is not null
    group by 1
),

final as (
    select
        ----------  ids
        conversations.conversation_id,
        conversations.division_id,
        leg_totals.wrapup_code_id,

        ---------- properties
        conversations.originating_direction,
        conversations.conversation_start,
        conversations.conversation_end,

        ---------- legs
        cast(coalesce(leg_totals.leg_count, 0) as bigint) as leg_count,
        cast(coalesce(leg_totals.rated_leg_count, 0) as bigint) as rated_leg_count,
        cast(coalesce(leg_totals.unpriced_leg_count, 0) as bigint) as unpriced_leg_count,
        cast(coalesce(billed_totals.discrepancy_count, 0) as bigint) as discrepancy_count,
        cast(leg_totals.answered_duration_ms as bigint) as answered_duration_ms,
        cast(coalesce(leg_totals.rated_seconds, 0) as bigint) as rated_seconds,

        ---------- money
        cast(coalesce(leg_totals.true_cost, 0) as decimal(18, 6)) as true_cost,
        cast(coalesce(billed_totals.billed_amount, 0) as decimal(18, 6)) as billed_amount,
        cast(
            coalesce(billed_totals.billed_amount, 0) - coalesce(leg_totals.true_cost, 0)
            as decimal(18, 6)
        ) as variance_amount,

        ---------- handle metrics (integer ms, counts)
        cast(metrics.t_talk_ms as bigint) as t_talk_ms,
        cast(metrics.t_held_ms as bigint) as t_held_ms,
        cast(metrics.t_acw_ms as bigint) as t_acw_ms,
        cast(metrics.t_handle_ms as bigint) as t_handle_ms,
        cast(metrics.t_answered_ms as bigint) as t_answered_ms,
        cast(metrics.n_offered as bigint) as n_offered,
        cast(metrics.n_connected as bigint) as n_connected,
        cast(metrics.n_transferred as bigint) as n_transferred,

        ---------- lineage
        conversations.extracted_at,
        {{ genesys_finance.built_at() }} as built_at
    from conversations
    left join leg_totals
        on conversations.conversation_id = leg_totals.conversation_id
    left join billed_totals
        on conversations.conversation_id = billed_totals.conversation_id
    left join metrics
        on conversations.conversation_id = metrics.conversation_id
)

select * from final
