{#- Carrier billing periods (DESIGN.md "Finance (wave 2)"): a carrier's billing day starts at
    `day_start_local` in its time zone (`billing_periods` lookup; Genesys Cloud Voice: 07:00 UTC), so
    the billing day of an instant is the local date of (local time - day start). An invoice period
    is a calendar month of billing days. A carrier with no `billing_periods` row bills by UTC day. -#}


{#- The carrier's billing day (date) of instant `ts` (timestamptz); `tz` and `day_start` are SQL text
    expressions (IANA zone, `HH:MM:SS`), null = UTC and 00:00:00. -#}
{% macro billing_date(ts, tz, day_start) -%}
    cast(
        {{ genesys_finance.at_zone(ts, 'coalesce(' ~ tz ~ ", 'UTC')") }}
        - cast(coalesce({{ day_start }}, '00:00:00') as interval)
        as date
    )
{%- endmacro %}


{#- The billing period (first billing day of its month) of a billing day. -#}
{% macro billing_period(billing_date_expr) -%}
    cast({{ dbt.date_trunc('month', billing_date_expr) }} as date)
{%- endmacro %}


{#- Wall-clock time (timestamp without time zone) of `ts` in zone `tz` (SQL text), DST included. -#}
{% macro at_zone(ts, tz) -%}
    {{ return(adapter.dispatch('at_zone', 'genesys_finance')(ts, tz)) }}
{%- endmacro %}

{% macro default__at_zone(ts, tz) -%}
    ({{ ts }} at time zone {{ tz }})
{%- endmacro %}

{% macro duckdb__at_zone(ts, tz) -%}
    timezone({{ tz }}, {{ ts }})
{%- endmacro %}


{#- The UTC calendar day of instant `ts` (whatever the session's time zone). -#}
{% macro utc_day(ts) -%}
    cast({{ genesys_finance.at_zone(ts, "'UTC'") }} as date)
{%- endmacro %}
