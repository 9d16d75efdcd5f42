{#- Access to the finance marts (DESIGN.md: env `GENESYS_FINANCE_READER_ROLE`, default
    `finance_reader`): that role may read the `finance` schema and nothing else. The marts' dbt
    `grants` config (dbt_project.yml, finance folder) grants SELECT on each table as it is built;
    these hooks create the role when it is missing (before the run) and grant it USAGE on the
    finance schema (after the run). Nothing else is granted, so raw, staging, intermediate, seeds
    and the job ledger stay closed to it. Postgres only: DuckDB has no roles. -#}


{% macro finance_reader_role() -%}
    {{ return(env_var('GENESYS_FINANCE_READER_ROLE', 'finance_reader')) }}
{%- endmacro %}


{#- on-run-start: create the role (NOLOGIN: a group role the org grants to its analysts). -#}
{% macro create_finance_reader_role() -%}
    {%- if not execute or target.type != 'postgres' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set role = genesys_finance.finance_reader_role() -%}
    {%- set sql -%}
        do $grants$
        begin
            if not exists (select 1 from pg_roles where rolname = {{ dbt.string_literal(role) }}) then
                create role {{ adapter.quote(role) }} nologin;
            end if;
        exception when duplicate_object then null;  -- created meanwhile by a concurrent build
        end
        $grants$
    {%- endset -%}
    {%- do run_query(sql) -%}
    {{ return('') }}
{%- endmacro %}


{#- on-run-end: USAGE on each schema holding a finance mart (its name may carry a target prefix). -#}
{% macro grant_finance_schema_usage() -%}
    {%- if not execute or target.type != 'postgres' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set schemas = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.fqn[1:3] == ['marts', 'finance']
            and node.schema not in schemas -%}
        {%- do schemas.append(node.schema) -%}
    {%- endfor -%}
    {%- set role = genesys_finance.finance_reader_role() -%}
    {%- for schema in schemas -%}
        {%- set exists = run_query(
            'select 1 from information_schema.schemata where schema_name = '
            ~ dbt.string_literal(schema)) -%}
        {%- if exists.rows | length > 0 -%}
            {%- do run_query('grant usage on schema ' ~ adapter.quote(schema) ~ ' to '
                ~ adapter.quote(role)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
