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
    {#- json_each keys array elements by their 0-based index (as text). -#}
    cross join lateral (
        select
            {{ alias }}_each.value as value,
            cast({{ alias }}_each.key as bigint) + 1 as ordinal
        from json_each({{ json }}, {{ genesys_finance.json_path_duckdb(path) }}) as {{ alias }}_each
        where json_type({{ json }}, {{ genesys_finance.json_path_duckdb(path) }}) = 'ARRAY'
    ) as {{ alias }}
{%- endmacro %}
