{#- Custom schemas are used as-is (`staging`, `intermediate`, `finance`, `seeds`): `finance` is a
    public contract, so it must not become `<target schema>_finance`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
