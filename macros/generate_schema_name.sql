{#- Schema of a model or seed, by dbt's convention:
    * production (target `prod`, or env var GENESYS_FINANCE_ENV=prod, which `genesys-finance`
      commands set unless told otherwise): the custom schema as is (`staging`, `intermediate`,
      `finance`, `seeds`), the public names;
    * anywhere else (a developer's `dbt build`, GENESYS_FINANCE_ENV=dev): prefixed by the target
      schema, `<target.schema>_<custom>` (`main_finance`; `alice_finance` with
      GENESYS_FINANCE_SCHEMA=alice), so a development build never writes production's schemas. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif genesys_finance.is_production() -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ target.schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}


{#- True on the production target: target name `prod`, or env var GENESYS_FINANCE_ENV=prod. -#}
{% macro is_production() -%}
    {{ return(target.name == 'prod' or env_var('GENESYS_FINANCE_ENV', '') | lower == 'prod') }}
{%- endmacro %}
