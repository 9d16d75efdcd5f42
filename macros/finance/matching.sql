{#- Helpers of CDR-to-leg matching and reconciliation (models/intermediate/int_cdr_leg_*.sql). -#}


{#- `relation.column` when the built relation has that column, else a typed NULL. Only for columns
    another part of the product adds (the normalised Call-ID hash, the org's numbers in clear): the
    match models build, and match less, until they land. At parse time there is no relation yet. -#}
{% macro column_if_present(relation, column, data_type, alias=none) -%}
    {%- set name = alias or column -%}
    {%- if execute and relation.identifier is not none and relation.schema is not none -%}
        {%- set existing = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {%- if existing is not none -%}
            {%- set present = adapter.get_columns_in_relation(existing) | map(attribute='name')
                | map('lower') | list -%}
            {%- if column | lower in present -%}
                {#- cast either way: an incremental model's column type must not depend on it #}
                {{ return('cast(' ~ column ~ ' as ' ~ data_type ~ ') as ' ~ name) }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return('cast(null as ' ~ data_type ~ ') as ' ~ name) }}
{%- endmacro %}


{#- Absolute value of a bigint expression (both engines). -#}
{% macro abs_ms(expr) -%}
    abs(cast({{ expr }} as bigint))
{%- endmacro %}
