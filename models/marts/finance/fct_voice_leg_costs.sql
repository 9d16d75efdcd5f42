-- One row per carrier-facing voice leg: what it should cost (`int_voice_legs_rated`) beside what
-- its carrier billed (the CDRs matched to it; a leg billed twice shows both rows summed, and
-- `fct_billing_reconciliation` flags it). Variance = billed - expected, when both are known.
--
-- Incremental per conversation (`replace_conversations`): a run rebuilds the conversations with a
-- leg re-rated since its last run or with a leg whose matched CDRs were rebuilt (a duplicate CDR
-- changes the billed sums, not the rating); the conversations extracted since lose their old rows.

{{
    config(
        materialized='incremental',
        incremental_strategy='replace_conversations',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}
{%- do genesys_finance.conversation_batch() %}

with

{% if is_incremental() %}
touched_conversations as (
    select legs.conversation_id
    from {{ ref('int_voice_legs_rated') }} as legs
    where legs.leg_id in ({{ finance_touched_legs() }})
),
{% endif %}

rated as (
    select * from {{ ref('int_voice_legs_rated') }}
    {% if is_incremental() -%}
        where conversation_id in (select touched_conversations.conversation_id from touched_conversations)
    {%- endif %}
),

billed as (
    select
        matches.leg_id,
        count(*) as matched_cdr_count,
        sum(cdrs.billed_seconds) as billed_seconds,
        sum(cdrs.billed_amount) as billed_amount
    from {{ ref('int_cdr_leg_matches') }} as matches
    inner join {{ ref('stg_carrier__cdrs') }} as cdrs
        on matches.cdr_id = cdrs.cdr_id
    where matches.leg_id in (select rated.leg_id from rated)
    group by 1
),

final as (
    select
        ----------  ids
        rated.leg_id,
        rated.conversation_id,
        rated.participant_id,
        rated.sip_call_id,
        rated.edge_id,

        ---------- carrier and status
        rated.carrier,
        rated.carrier_source,
        rated.rating_status,
        rated.match_method,

        ---------- the leg
        rated.direction,
        rated.conversation_start,
        rated.billing_start,
        rated.answered_duration_ms,
        rated.rated_number,

        ---------- the rate applied
        rated.destination_prefix,
        rated.rate_effective_from,
        rated.rate_per_minute,
        rated.currency,
        rated.min_seconds,
        rated.increment_seconds,
        rated.connection_fee,
        rated.time_band,

        ---------- expected
        rated.billable_seconds,
        rated.rated_seconds,
        rated.expected_cost,

        ---------- billed (matched CDRs)
        cast(coalesce(billed.matched_cdr_count, 0) as bigint) as matched_cdr_count,
        cast(billed.billed_seconds as bigint) as billed_seconds,
        cast(billed.billed_amount as {{ type_money() }}) as billed_amount,
        cast(billed.billed_amount - rated.expected_cost as {{ type_money() }}) as variance_amount,

        ---------- attribution keys
        rated.queue_id,
        rated.division_id,
        rated.wrapup_code_id,
        rated.client,

        ---------- lineage
        rated.extracted_at,
        {{ genesys_finance.built_at() }} as built_at
    from rated
    left join billed
        on rated.leg_id = billed.leg_id
)

select * from final
