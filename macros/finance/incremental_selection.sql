{#- What each incremental finance model rebuilds in a run (macros/incremental/replace_rows.sql for
    the mechanism, docs/internals.md for why each set is complete). A model's `replaced_rows` macro
    is the predicate its `replace_rows` strategy deletes by, over the model's own columns. -#}

{#- The legs whose matches may have changed since this model last ran: those of the candidate rows
    rebuilt since, and those this model pairs with one of the rebuilt candidates' CDRs. -#}
{% macro cdr_leg_matches_touched_legs() -%}
    select rebuilt.leg_id
    from {{ ref('int_cdr_leg_candidates') }} as rebuilt
    where {{ genesys_finance.built_since_last_run('rebuilt') }}
        and rebuilt.leg_id is not null
    union
    select held.leg_id
    from {{ this }} as held
    where held.cdr_id in (
            select rebuilt.cdr_id
            from {{ ref('int_cdr_leg_candidates') }} as rebuilt
            where {{ genesys_finance.built_since_last_run('rebuilt') }}
        )
{%- endmacro %}


{% macro cdr_leg_matches_replaced(new_rows) -%}
    leg_id in ({{ genesys_finance.cdr_leg_matches_touched_legs() }})
{%- endmacro %}


{#- The legs re-rated (`int_voice_legs_rated`) or whose matched CDRs were rebuilt
    (`int_cdr_leg_matches`) since this model last ran. -#}
{% macro finance_touched_legs() -%}
    select rerated.leg_id
    from {{ ref('int_voice_legs_rated') }} as rerated
    where {{ genesys_finance.built_since_last_run('rerated') }}
    union
    select rematched.leg_id
    from {{ ref('int_cdr_leg_matches') }} as rematched
    where {{ genesys_finance.built_since_last_run('rematched') }}
{%- endmacro %}


{#- fct_billing_reconciliation: the leg rows of the legs rebuilt and of the conversations extracted
    since (a leg that disappeared), the CDR rows of the CDRs rebuilt (as a leg's CDR or on their
    own: a CDR changes from one to the other). -#}
{% macro billing_reconciliation_replaced(new_rows) -%}
    (
        record_type = 'leg'
        and (
            leg_id in (select new_rows.leg_id from {{ new_rows }} as new_rows where new_rows.record_type = 'leg')
            or conversation_id in ({{ genesys_finance.conversations_extracted_since() }})
        )
    )
    or (
        record_type = 'cdr'
        and cdr_id in (select new_rows.cdr_id from {{ new_rows }} as new_rows where new_rows.cdr_id is not null)
    )
{%- endmacro %}


{#- The days a conversation rebuilt in `fct_conversation_costs` since this model last ran may
    have put a row on, before or after its change: from its start to its end (now while it runs),
    widened by 2 days for the carriers' billing days (a local date of a shifted day start). A
    conversation's start never changes between versions; its legs start within it. -#}
{% macro finance_conversation_days() -%}
    {%- set spans_sql -%}
        select distinct
            {{ utc_day('(' ~ dbt.dateadd('day', -2, 'rebuilt.conversation_start') ~ ')') }}
                as first_day,
            {{ utc_day('(' ~ dbt.dateadd(
                'day', 2, 'coalesce(rebuilt.conversation_end, ' ~ dbt.current_timestamp() ~ ')') ~ ')') }}
                as last_day
        from {{ ref('fct_conversation_costs') }} as rebuilt
        where {{ genesys_finance.built_since_last_run('rebuilt') }}
    {%- endset -%}
    select distinct spine.date_day as touched_day
    from {{ ref('int_time_spine_day') }} as spine
    inner join ({{ spans_sql }}) as spans
        on spine.date_day between spans.first_day and spans.last_day
{%- endmacro %}


{#- int_billing_per_minute_daily: the billing days of the reconciliation rows rebuilt since its last
    run (a leg's or CDR's new day; a leg's old day with a CDR is that CDR's, which has a new row) and
    the days its rebuilt conversations span (a leg's old day without a CDR). -#}
{% macro billing_per_minute_days() -%}
    select rebuilt.billing_date
    from {{ ref('fct_billing_reconciliation') }} as rebuilt
    where {{ genesys_finance.built_since_last_run('rebuilt') }}
    union
    select days.touched_day from ({{ genesys_finance.finance_conversation_days() }}) as days
{%- endmacro %}


{% macro billing_per_minute_daily_replaced(new_rows) -%}
    billing_date is null
    or billing_date in ({{ genesys_finance.billing_per_minute_days() }})
{%- endmacro %}


{#- int_revenue_attribution_daily: the UTC days its rebuilt conversations span. -#}
{% macro revenue_attribution_daily_replaced(new_rows) -%}
    billing_day is null
    or billing_day in ({{ genesys_finance.finance_conversation_days() }})
{%- endmacro %}
