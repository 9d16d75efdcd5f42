{#- `source(...)`, or an empty relation with the source's documented columns when the raw table does
    not exist yet (no CDR file loaded, dimensions not extracted): a build on a new warehouse must not
    fail for that. Column types come from `data_type` in the sources YAML. -#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- if existing is not none -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name) | first -%}
    {%- set columns = [] -%}
    {%- for name, column in node.columns.items() -%}
        {%- do columns.append('cast(null as ' ~ (column.data_type or 'text') ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {#- Postgres before 16 wants an alias on a subquery in FROM. -#}
    {{ return('(select ' ~ (columns | join(', ')) ~ ' where 1 = 0) as empty_' ~ table_name) }}
{%- endmacro %}
