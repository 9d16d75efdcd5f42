{#- Rating arithmetic and the dialect differences it needs (DESIGN.md "Rating rule").
    Exact throughout: integer seconds and milliseconds, money in integer micro-units until the end
    (DuckDB divides decimals in DOUBLE, so the rule's "/ 60" is never written as a decimal division). -#}


{#- Integer division rounding toward zero (both operands bigint and >= 0 here). -#}
{% macro int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('int_div', 'genesys_finance')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__int_div(numerator, denominator) -%}
    (cast({{ numerator }} as bigint) / cast({{ denominator }} as bigint))
{%- endmacro %}

{% macro duckdb__int_div(numerator, denominator) -%}
    (cast({{ numerator }} as bigint) // cast({{ denominator }} as bigint))
{%- endmacro %}


{#- The wall-clock time (timestamp without time zone) of instant `ts` (timestamptz) in the IANA
    zone `tz` (a SQL text expression): DST included, never a fixed offset. -#}
{% macro local_timestamp(ts, tz) -%}
    {{ return(adapter.dispatch('local_timestamp', 'genesys_finance')(ts, tz)) }}
{%- endmacro %}

{% macro default__local_timestamp(ts, tz) -%}
    ({{ ts }} at time zone {{ tz }})
{%- endmacro %}

{% macro duckdb__local_timestamp(ts, tz) -%}
    timezone({{ tz }}, {{ ts }})
{%- endmacro %}


{#- The UTC calendar day of instant `ts` (whatever the session's time zone). -#}
{% macro utc_date(ts) -%}
    cast({{ genesys_finance.local_timestamp(ts, "'UTC'") }} as date)
{%- endmacro %}


{#- ISO weekday (1 = Monday .. 7 = Sunday) of a timestamp without time zone. -#}
{% macro iso_weekday(local_ts) -%}
    {{ return(adapter.dispatch('iso_weekday', 'genesys_finance')(local_ts)) }}
{%- endmacro %}

{% macro default__iso_weekday(local_ts) -%}
    cast(extract(isodow from {{ local_ts }}) as integer)
{%- endmacro %}

{% macro duckdb__iso_weekday(local_ts) -%}
    cast(isodow({{ local_ts }}) as integer)
{%- endmacro %}


{#- Milliseconds since local midnight of a timestamp without time zone (floored: band limits are
    whole seconds, so the comparison is the same as on the exact instant). -#}
{% macro ms_of_day(local_ts) -%}
    {{ return(adapter.dispatch('ms_of_day', 'genesys_finance')(local_ts)) }}
{%- endmacro %}

{% macro default__ms_of_day(local_ts) -%}
    cast(floor(extract(epoch from cast({{ local_ts }} as time)) * 1000) as bigint)
{%- endmacro %}

{% macro duckdb__ms_of_day(local_ts) -%}
    cast(epoch_ms(cast({{ local_ts }} as time)) as bigint)
{%- endmacro %}


{#- `HH:MM:SS` text (up to `24:00:00`) to milliseconds since midnight. -#}
{% macro clock_text_ms(text_expr) -%}
    (
        cast(split_part({{ text_expr }}, ':', 1) as bigint) * 3600000
        + cast(split_part({{ text_expr }}, ':', 2) as bigint) * 60000
        + cast(split_part({{ text_expr }}, ':', 3) as bigint) * 1000
    )
{%- endmacro %}


{#- Whole seconds of a duration in ms, rounded up (30.1 s -> 31 s): the rule's `d`. -#}
{% macro billable_seconds(duration_ms) -%}
    {{ genesys_finance.int_div(duration_ms ~ ' + 999', '1000') }}
{%- endmacro %}


{#- Seconds charged under min/inc: 0 if d = 0, `min` if d <= min, else min + ceil((d - min) / inc) * inc. -#}
{% macro rated_seconds(seconds, min_seconds, increment_seconds) -%}
    case
        when {{ seconds }} = 0 then cast(0 as bigint)
        when {{ seconds }} <= {{ min_seconds }} then cast({{ min_seconds }} as bigint)
        else cast({{ min_seconds }} as bigint) + {{ genesys_finance.int_div(
            '(' ~ seconds ~ ' - ' ~ min_seconds ~ ' + ' ~ increment_seconds ~ ' - 1)',
            increment_seconds) }} * {{ increment_seconds }}
    end
{%- endmacro %}


{#- Cost of a leg, decimal(18, 6): connection_fee + rated_seconds * rate_per_minute / 60, rounded half-up
    to 6 decimals, 0 when nothing is rated (never answered). `rate_per_minute` has 8 decimals, so
    rated_seconds * rate * 10^8 is an integer N and the cost in micro-units is round(N / 6000) =
    floor((N + 3000) / 6000) for N >= 0; the fee (6 decimals) adds exactly. -#}
{% macro leg_cost(rated_seconds, rate_per_minute, connection_fee) -%}
    case
        when {{ rated_seconds }} = 0 then cast(0 as {{ genesys_finance.type_money() }})
        else cast(
            cast(
                {{ genesys_finance.int_div(
                    rated_seconds ~ ' * cast(' ~ rate_per_minute ~ ' * 100000000 as bigint) + 3000',
                    '6000') }}
                + cast({{ connection_fee }} * 1000000 as bigint)
            as decimal(18, 0)) * cast(0.000001 as decimal(7, 6))
        as {{ genesys_finance.type_money() }})
    end
{%- endmacro %}


{#- Money and rate types of the finance marts (BRIEF contract). -#}
{% macro type_money() -%}decimal(18, 6){%- endmacro %}

{% macro type_rate() -%}decimal(18, 8){%- endmacro %}
