{#- A FROM-clause item that unnests the JSON array at `path` of `json` into one row per element,
    with columns `<alias>.value` (the element, JSON) and `<alias>.ordinal` (1-based position).
    An absent or non-array value yields no rows instead of an error. Use after `from <cte>`. -#}
{% macro json_array_rows(json, path, alias) -%}
    {{ return(adapter.dispatch('json_array_rows', 'genesys_finance')(json, path, alias)) }}
{%- endmacro %}

{% macro postgres__json_array_rows(json, path, alias) -%}
    {%- set arr = genesys_finance.postgres__json_get(json, path) -%}
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof({{ arr }}) = 'array' then {{ arr }} else '[]'::jsonb end
    ) with ordinality as {{ alias }} (value, ordinal)
{%- endmacro %}

{% macro duckdb__json_array_rows(json, path, alias) -%}
    {#- select-list unnest: DuckDB plans it as a plain UNNEST (WITH ORDINALITY was 10x slower) -#}
    {%- set arr = genesys_finance.struct_path_duckdb(json, path) -%}
    cross join lateral (
        select
            unnest({{ arr }}) as value,
            cast(generate_subscripts({{ arr }}, 1) as bigint) as ordinal
    ) as {{ alias }}
{%- endmacro %}
