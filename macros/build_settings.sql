{#- Per-model hooks of the flattened (incremental) models; no-ops on DuckDB, which keeps exact
    statistics as it writes and sizes its own memory. -#}

{#- pre-hook: session settings for the model's transaction. Postgres' default 4MB work_mem makes the
    sorts and hashes of the intermediate models spill to disk at scale. -#}
{% macro flatten_pre_hook() -%}
    {{ return(adapter.dispatch('flatten_pre_hook', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__flatten_pre_hook() -%}{%- endmacro %}

{% macro postgres__flatten_pre_hook() -%}
    set local work_mem = '{{ var("genesys_postgres_work_mem", "128MB") }}'
{%- endmacro %}


{#- post-hook: planner statistics for the table just built. Without them Postgres plans the
    downstream models for a handful of rows (a new table has none until autovacuum gets to it) and
    picks nested loops: int_voice_legs took 50 s on 20,000 conversations, quadratic beyond. -#}
{% macro flatten_post_hook() -%}
    {{ return(adapter.dispatch('flatten_post_hook', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__flatten_post_hook() -%}{%- endmacro %}

{% macro postgres__flatten_post_hook() -%}
    analyze {{ this }}
{%- endmacro %}


{#- Indexes of the flattened tables: on Postgres, `conversation_id`, so the incremental delete of a
    batch's conversations (`replace_conversations`, `delete+insert`) probes an index instead of
    scanning the whole table. DuckDB: none (its delete scans columnar data fast; an index would slow
    every insert). -#}
{% macro flatten_indexes() -%}
    {%- if target.type == 'postgres' -%}
        {{ return([{'columns': ['conversation_id']}]) }}
    {%- endif -%}
    {{ return([]) }}
{%- endmacro %}
