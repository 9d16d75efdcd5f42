{#- Types and casts that differ by engine. -#}

{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}timestamptz{%- endmacro %}

{% macro duckdb__type_timestamptz() -%}timestamp with time zone{%- endmacro %}


{#- Text to bigint, NULL instead of an error when the text is not an integer. -#}
{% macro safe_bigint(expr) -%}
    {{ return(adapter.dispatch('safe_bigint', 'genesys_finance')(expr)) }}
{%- endmacro %}

{% macro postgres__safe_bigint(expr) -%}
    case
        when {{ expr }} ~ '^\s*-?[0-9]{1,18}\s*$' then cast({{ expr }} as bigint)
    end
{%- endmacro %}

{% macro duckdb__safe_bigint(expr) -%}
    try_cast({{ expr }} as bigint)
{%- endmacro %}


{#- Text to decimal(`precision`, `scale`), NULL instead of an error when the text is not a plain
    JSON-style number or does not fit once rounded to `scale` (a boolean, free text or 1e30 where a
    MOS belongs cannot stop a build). -#}
{% macro safe_decimal(expr, precision, scale) -%}
    {{ return(adapter.dispatch('safe_decimal', 'genesys_finance')(expr, precision, scale)) }}
{%- endmacro %}

{% macro decimal_text_pattern() -%}
    '^\s*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]{1,3})?\s*$'
{%- endmacro %}

{#- Nested CASEs: Postgres evaluates an inner one only when the outer matched. The outer cast keeps
    the typmod (a CASE's type is plain numeric), which the models' contracts and incremental schema
    checks compare. -#}
{% macro postgres__safe_decimal(expr, precision, scale) -%}
    cast(case
        when {{ expr }} ~ {{ genesys_finance.decimal_text_pattern() }}
            then case
                when abs(round(cast({{ expr }} as numeric), {{ scale }})) < 1e{{ precision - scale }}
                    then cast({{ expr }} as numeric)
            end
    end as numeric({{ precision }}, {{ scale }}))
{%- endmacro %}

{% macro duckdb__safe_decimal(expr, precision, scale) -%}
    case
        when regexp_matches({{ expr }}, {{ genesys_finance.decimal_text_pattern() }})
            then try_cast(try_cast({{ expr }} as decimal(38, 12)) as decimal({{ precision }}, {{ scale }}))
    end
{%- endmacro %}


{#- Text to boolean: JSON's `true` and `false` only, anything else NULL (not an error, and not
    the engines' lenient readings such as 'yes', '1' or 't'). -#}
{% macro safe_boolean(expr) -%}
    case {{ expr }} when 'true' then true when 'false' then false end
{%- endmacro %}


{#- `expr` (text) as timestamptz when it reads as an ISO-8601 date and time, else NULL, not an
    error: one oddly typed or impossible time in a payload (a number, free text, 2024-02-30, year 0,
    an offset beyond the +-15:59 Postgres accepts) cannot stop a build. The extractor quarantines
    such payloads (quarantine.py); this is the backstop for rows that reached raw another way. -#}
{% macro safe_timestamptz(expr) -%}
    {{ return(adapter.dispatch('safe_timestamptz', 'genesys_finance')(expr)) }}
{%- endmacro %}

{#- Postgres 15 has no try-cast (pg_input_is_valid is 16+): a pattern with the field ranges, then,
    nested so it runs only on a match (CASE keeps that order), the day against its month's length. -#}
{% macro postgres__safe_timestamptz(expr) -%}
    case
        when {{ expr }} ~ '^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-5])(:?[0-5][0-9])?)?$'
            then case
                when substr({{ expr }}, 9, 2) <= '28'
                    or cast(substr({{ expr }}, 9, 2) as integer) <= extract(
                        day from cast(substr({{ expr }}, 1, 7) || '-01' as date)
                        + interval '1 month' - interval '1 day'
                    )
                    then cast({{ expr }} as {{ genesys_finance.type_timestamptz() }})
            end
    end
{%- endmacro %}

{% macro duckdb__safe_timestamptz(expr) -%}
    try_cast({{ expr }} as {{ genesys_finance.type_timestamptz() }})
{%- endmacro %}


{#- Whole milliseconds from `start_at` to `end_at` (both timestamptz); NULL if either is NULL. -#}
{% macro duration_ms(start_at, end_at) -%}
    {{ return(adapter.dispatch('duration_ms', 'genesys_finance')(start_at, end_at)) }}
{%- endmacro %}

{% macro postgres__duration_ms(start_at, end_at) -%}
    cast(round(extract(epoch from ({{ end_at }} - {{ start_at }})) * 1000) as bigint)
{%- endmacro %}

{% macro duckdb__duration_ms(start_at, end_at) -%}
    (epoch_ms({{ end_at }}) - epoch_ms({{ start_at }}))
{%- endmacro %}


{#- Regular-expression match, true/false. -#}
{% macro regex_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'genesys_finance')(expr, pattern)) }}
{%- endmacro %}

{% macro postgres__regex_matches(expr, pattern) -%}
    ({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__regex_matches(expr, pattern) -%}
    regexp_full_match({{ expr }}, '{{ pattern }}')
{%- endmacro %}


{#- The engine's JSON type: jsonb on Postgres (the payload lands as jsonb), JSON on DuckDB. Casting is a
    no-op when the column already has that type and makes text payloads usable. -#}
{% macro as_json(expr) -%}
    {{ return(adapter.dispatch('as_json', 'genesys_finance')(expr)) }}
{%- endmacro %}

{% macro postgres__as_json(expr) -%}
    cast({{ expr }} as jsonb)
{%- endmacro %}

{% macro duckdb__as_json(expr) -%}
    cast({{ expr }} as json)
{%- endmacro %}
