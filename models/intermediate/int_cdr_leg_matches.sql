{{
    config(
        materialized='incremental',
        incremental_strategy='replace_rows',
        replaced_rows='cdr_leg_matches_replaced',
        on_schema_change='fail',
        pre_hook="{{ genesys_finance.matching_pre_hook() }}",
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}

-- One row per CDR paired with a leg (`int_cdr_leg_candidates`: how pairs are found and ranked).
-- A CDR goes to its best leg; a CDR whose best two legs are equally good (same method, same
-- |start difference| and |duration difference|) is left unmatched and reported as ambiguous by
-- `fct_billing_reconciliation`, never guessed. Several CDRs may pair with one leg: the leg's first
-- (`leg_cdr_rank` = 1: best method, then closest start, closest duration, file, line) is its CDR,
-- the others are duplicates.
--
-- Incremental per leg (`replace_rows`, macro `cdr_leg_matches_replaced` below): a run rebuilds every
-- row of the legs whose candidates were rebuilt since its last run, and of the legs that held one of
-- those candidates' CDRs (a CDR that moved to another leg or became ambiguous).

with

{% if is_incremental() %}
touched_legs as (
    {{ cdr_leg_matches_touched_legs() }}
),
{% endif %}

candidates as (
    select * from {{ ref('int_cdr_leg_candidates') }}
    where leg_id is not null
    {% if is_incremental() -%}
        and leg_id in (select touched_legs.leg_id from touched_legs)
    {%- endif %}
),

cdrs as (
    select
        cdr_id,
        source_file,
        source_line
    from {{ ref('stg_carrier__cdrs') }}
),

chosen as (
    select candidates.*
    from candidates
    where candidates.candidate_rank = 1
        and not candidates.is_ambiguous
),

final as (
    select
        chosen.leg_id,
        chosen.cdr_id,
        chosen.match_method,
        chosen.start_diff_ms,
        chosen.duration_diff_ms,
        cast(row_number() over (
            partition by chosen.leg_id
            order by
                case chosen.match_method
                    when 'call_id' then 1 when 'call_id_normalised' then 2 else 3
                end,
                abs(chosen.start_diff_ms),
                abs(chosen.duration_diff_ms),
                cdrs.source_file,
                cdrs.source_line,
                chosen.cdr_id
        ) as bigint) as leg_cdr_rank,
        {{ genesys_finance.built_at() }} as built_at
    from chosen
    inner join cdrs
        on chosen.cdr_id = cdrs.cdr_id
)

select * from final
