{#- Per-model hooks of the flattened (incremental) models; no-ops on DuckDB, which keeps exact
    statistics as it writes and sizes its own memory. -#}

{#- pre-hook: session settings for the model's transaction, Postgres:
    * `work_mem`: the default 4MB makes the sorts and hashes of the intermediate models spill to
      disk at scale;
    * no Memoize: the planner put one in front of each nested `jsonb_array_elements` (expecting
      repeated arrays), keyed on the whole participant or session document; every lookup missed
      and it cost a third of the segments and session metrics models (19 s -> 13 s at 100k). -#}
{% macro flatten_pre_hook() -%}
    {{ return(adapter.dispatch('flatten_pre_hook', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__flatten_pre_hook() -%}{%- endmacro %}

{% macro postgres__flatten_pre_hook() -%}
    set local work_mem = '{{ var("genesys_postgres_work_mem", "128MB") }}';
    set local enable_memoize = off
{%- endmacro %}


{#- post-hook: planner statistics for the table just built. Without them Postgres plans the
    downstream models for a handful of rows (a new table has none until autovacuum gets to it) and
    picks nested loops: int_voice_legs took 50 s on 20,000 conversations, quadratic beyond.
    * A table without statistics (first build, full refresh) gets a full `analyze`.
    * After an incremental batch only `extracted_at` is re-sampled, from 3,000 rows
      (statistics target 10): the next models select their batch on it, and with stale statistics
      Postgres estimated that batch at 1 row and nested-looped it (int_session_metrics_pivoted ran
      for over 13 minutes at 100k conversations). A full `analyze` samples 30,000 rows of every
      column, ~1 s per big model however small the batch. -#}
{% macro flatten_post_hook() -%}
    {{ return(adapter.dispatch('flatten_post_hook', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__flatten_post_hook() -%}{%- endmacro %}

{% macro postgres__flatten_post_hook() -%}
    {%- set relation = this.include(database=false) -%}
    do $$
    declare
        target_setting text := current_setting('default_statistics_target');
    begin
        if exists (
            select 1 from pg_catalog.pg_stats
            where schemaname = '{{ this.schema }}' and tablename = '{{ this.identifier }}'
        ) then
            perform set_config('default_statistics_target', '10', true);
            analyze {{ relation }} (extracted_at);
            perform set_config('default_statistics_target', target_setting, true);
        else
            analyze {{ relation }};
        end if;
    end
    $$
{%- endmacro %}


{#- Hint for a CTE read several times: have each reader scan its source instead of a materialized
    copy. Postgres materializes such a CTE and then plans the readers without statistics: merge
    joins and on-disk sorts in int_voice_legs (9.0 s -> 4.7 s at 100k conversations). DuckDB
    materializes it cheaply (columnar) and gets no hint. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__not_materialized() -%}{%- endmacro %}

{% macro postgres__not_materialized() -%}
    not materialized
{%- endmacro %}


{#- pre-hook of the CDR matching (`int_cdr_leg_candidates`), Postgres: its pairs join on several
    masked columns at once and the planner guesses a handful of rows where there are tens of
    thousands, then nests loops (anti-joins against every Call-ID pair: over 3 minutes at 100k
    conversations instead of ~10 s). Hash and merge joins only, and room to sort in memory. -#}
{% macro matching_pre_hook() -%}
    {{ return(adapter.dispatch('matching_pre_hook', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__matching_pre_hook() -%}{%- endmacro %}

{% macro postgres__matching_pre_hook() -%}
    set local work_mem = '{{ var("genesys_postgres_work_mem", "128MB") }}';
    set local enable_nestloop = off
{%- endmacro %}


{#- post-hook of the incremental finance models, Postgres: planner statistics for the table just
    written. Without them the next run's plans take a table of 800,000 rows for a few hundred and
    nest loops over it (the 1M incremental run's `int_cdr_leg_matches` ran for over 10 minutes). -#}
{% macro finance_post_hook() -%}
    {{ return(adapter.dispatch('finance_post_hook', 'genesys_finance')()) }}
{%- endmacro %}

{% macro default__finance_post_hook() -%}{%- endmacro %}

{% macro postgres__finance_post_hook() -%}
    analyze {{ this.include(database=false) }}
{%- endmacro %}
