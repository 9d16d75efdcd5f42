{#- Reading values out of the masked payload (`genesys_payload`). Every difference between the engines
    lives here, so models read the same on both: jsonb operators on Postgres, STRUCT field access on
    DuckDB (the payload is parsed once into a typed STRUCT). `path` is a key or a list of keys and
    (0-based) array positions; an absent key gives NULL. -#}

{#- A path is a key, or a list of keys and (integer) array positions, e.g. ['flow', 'flowId'] or
    ['q850ResponseCodes', 0]. -#}
{% macro json_path_pg(path) -%}
    {%- if path is string -%}{%- set path = [path] -%}{%- endif -%}
    '{{ "{" ~ (path | join(",")) ~ "}" }}'
{%- endmacro %}

{#- DuckDB: a struct path; list positions are 1-based there. -#}
{% macro struct_path_duckdb(json, path) -%}
    {%- if path is string -%}{%- set path = [path] -%}{%- endif -%}
    {{ json }}
    {%- for step in path -%}
        {%- if step is number -%}[{{ step + 1 }}]{%- else -%}."{{ step }}"{%- endif -%}
    {%- endfor -%}
{%- endmacro %}


{#- JSON value (object, array or scalar) at `path`. -#}
{% macro json_get(json, path) -%}
    {{ return(adapter.dispatch('json_get', 'genesys_finance')(json, path)) }}
{%- endmacro %}

{% macro postgres__json_get(json, path) -%}
    ({{ json }} #> {{ genesys_finance.json_path_pg(path) }})
{%- endmacro %}

{% macro duckdb__json_get(json, path) -%}
    {{ genesys_finance.struct_path_duckdb(json, path) }}
{%- endmacro %}


{#- Text at `path` (a JSON string unquoted; other scalars as their JSON text). -#}
{% macro json_text(json, path) -%}
    {{ return(adapter.dispatch('json_text', 'genesys_finance')(json, path)) }}
{%- endmacro %}

{% macro postgres__json_text(json, path) -%}
    ({{ json }} #>> {{ genesys_finance.json_path_pg(path) }})
{%- endmacro %}

{% macro duckdb__json_text(json, path) -%}
    cast({{ genesys_finance.struct_path_duckdb(json, path) }} as varchar)
{%- endmacro %}


{#- Integer (bigint) at `path`: metric values, counts. A non-integer value gives NULL, not an
    error, so one odd value cannot stop a build. -#}
{% macro json_bigint(json, path) -%}
    {{ genesys_finance.safe_bigint(genesys_finance.json_text(json, path)) }}
{%- endmacro %}


{#- UTC timestamp (timestamptz) at `path`; the API sends ISO-8601 with a trailing Z. Anything
    else gives NULL, not an error (`safe_timestamptz`). -#}
{% macro json_timestamp(json, path) -%}
    {{ genesys_finance.safe_timestamptz(genesys_finance.json_text(json, path)) }}
{%- endmacro %}


{#- Boolean at `path`; a value that is not true or false gives NULL (`safe_boolean`). -#}
{% macro json_boolean(json, path) -%}
    {{ genesys_finance.safe_boolean(genesys_finance.json_text(json, path)) }}
{%- endmacro %}


{#- Decimal at `path` (quality scores such as MOS; never used for durations or money); a value
    that is not a number that fits gives NULL (`safe_decimal`). -#}
{% macro json_decimal(json, path, precision=18, scale=6) -%}
    {{ genesys_finance.safe_decimal(genesys_finance.json_text(json, path), precision, scale) }}
{%- endmacro %}


{#- Text of the first element of the array at `path` (e.g. the first division id). -#}
{% macro json_first_text(json, path) -%}
    {{ return(adapter.dispatch('json_first_text', 'genesys_finance')(json, path)) }}
{%- endmacro %}

{% macro default__json_first_text(json, path) -%}
    {%- if path is string -%}{%- set path = [path] -%}{%- endif -%}
    {{ genesys_finance.json_text(json, path + [0]) }}
{%- endmacro %}


{#- Number of elements of the array at `path`; 0 when absent. -#}
{% macro json_array_length(json, path) -%}
    {{ return(adapter.dispatch('json_array_length', 'genesys_finance')(json, path)) }}
{%- endmacro %}

{% macro postgres__json_array_length(json, path) -%}
    coalesce(
        case
            when jsonb_typeof({{ genesys_finance.postgres__json_get(json, path) }}) = 'array'
                then cast(jsonb_array_length({{ genesys_finance.postgres__json_get(json, path) }}) as bigint)
        end,
        cast(0 as bigint)
    )
{%- endmacro %}

{% macro duckdb__json_array_length(json, path) -%}
    coalesce(cast(len({{ genesys_finance.struct_path_duckdb(json, path) }}) as bigint), 0)
{%- endmacro %}
