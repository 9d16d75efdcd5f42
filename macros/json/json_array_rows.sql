{#- A FROM-clause item that unnests the JSON array at `path` of `json` into one row per element,
    with columns `<alias>.value` (the element, JSON) and `<alias>.ordinal` (1-based position).
    An absent or non-array value yields no rows instead of an error. Use after `from <cte>`.
    `required` (keys) and `required_timestamps` (keys) drop the elements whose text at one of those
    keys is NULL, or is not a timestamp: what a staging contract requires, checked here rather than
    by a WHERE on the model's rows, because on DuckDB any filter between nested unnests turns the
    plain UNNEST plan into a hash-grouped join on one core (at 250k conversations: segments
    9.5 -> 5.3 s, sessions 13.3 -> 6.2 s, bench/RESULTS.md). The ordinal stays the element's position in the whole array. -#}
{% macro json_array_rows(json, path, alias, required=[], required_timestamps=[]) -%}
    {{ return(adapter.dispatch('json_array_rows', 'genesys_finance')(
        json, path, alias, required, required_timestamps)) }}
{%- endmacro %}

{#- The condition on element `element` that `required` and `required_timestamps` ask for. -#}
{% macro json_element_is_usable(element, required, required_timestamps) -%}
    {%- set checks = [] -%}
    {%- for key in required -%}
        {%- do checks.append(genesys_finance.json_text(element, key) ~ ' is not null') -%}
    {%- endfor -%}
    {%- for key in required_timestamps -%}
        {%- do checks.append(genesys_finance.json_timestamp(element, key) ~ ' is not null') -%}
    {%- endfor -%}
    {{ checks | join(' and ') }}
{%- endmacro %}

{% macro postgres__json_array_rows(json, path, alias, required, required_timestamps) -%}
    {%- set arr = genesys_finance.postgres__json_get(json, path) -%}
    {%- set source -%}
        jsonb_array_elements(
            case when jsonb_typeof({{ arr }}) = 'array' then {{ arr }} else '[]'::jsonb end
        ) with ordinality
    {%- endset -%}
    {%- if required or required_timestamps -%}
    cross join lateral (
        select
            element.value,
            element.ordinal
        from {{ source }} as element (value, ordinal)
        where {{ genesys_finance.json_element_is_usable('element.value', required, required_timestamps) }}
    ) as {{ alias }}
    {%- else -%}
    cross join lateral {{ source }} as {{ alias }} (value, ordinal)
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__json_array_rows(json, path, alias, required, required_timestamps) -%}
    {#- select-list unnest: DuckDB plans it as a plain UNNEST (WITH ORDINALITY was 10x slower); the
        required fields are a list_filter, an expression, so the plan stays a plain UNNEST -#}
    {%- set arr = genesys_finance.struct_path_duckdb(json, path) -%}
    {%- if required or required_timestamps -%}
    cross join lateral (
        select
            kept.element[1] as value,
            cast(kept.element[2] as bigint) as ordinal
        from (
            select unnest(list_filter(
                list_zip({{ arr }}, generate_series(1, len({{ arr }}))),
                lambda element: {{ genesys_finance.json_element_is_usable(
                    'element[1]', required, required_timestamps) }}
            )) as element
        ) as kept
    ) as {{ alias }}
    {%- else -%}
    cross join lateral (
        select
            unnest({{ arr }}) as value,
            cast(generate_subscripts({{ arr }}, 1) as bigint) as ordinal
    ) as {{ alias }}
    {%- endif -%}
{%- endmacro %}
