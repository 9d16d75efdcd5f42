{#- Incremental finance models (issue #12 "a day of new data stays cheap"). Each of them stamps its
    rows with `built_at`, the start of the dbt run that (re)built them, so a model downstream reads
    only the rows its inputs rebuilt since its own last run (`built_since_last_run`). What a run
    replaces is decided per model: dbt's `delete+insert` where the rows to replace are exactly the
    keys of the new rows, the project's `replace_conversations` where they are a conversation's,
    and `replace_rows` where some replaced rows have no successor (a CDR no longer matched, a
    period left empty): the model names a macro that selects them (docs/internals.md). -#}


{#- This run's `built_at`: dbt's `run_started_at` (UTC), the same for every model of the run. -#}
{% macro built_at() -%}
    cast('{{ run_started_at.isoformat() }}' as {{ genesys_finance.type_timestamptz() }})
{%- endmacro %}


{#- The newest value of timestamp `column` in `relation` (default: this model), read when the model
    runs and written into its SQL as a constant (the epoch when there is none). With `built_at`:
    rows of an input with a later `built_at` were rebuilt after this model last ran. -#}
{% macro newest_value(column='built_at', relation=none) -%}
    {%- set type = genesys_finance.type_timestamptz() -%}
    {%- set relation = relation or this -%}
    {%- if not execute -%}
        {{ return(genesys_finance.epoch_start()) }}
    {%- endif -%}
    {%- set newest = run_query(
        "select cast(max(" ~ column ~ ") as " ~ dbt.type_string() ~ ") from " ~ relation
    ).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(genesys_finance.epoch_start()) }}
    {%- endif -%}
    {{ return("cast('" ~ newest ~ "' as " ~ type ~ ")") }}
{%- endmacro %}


{#- `where` clause: the rows of `relation` (a ref) rebuilt since this model's last run. -#}
{% macro built_since_last_run(alias=none) -%}
    {{ alias ~ '.' if alias else '' }}built_at > {{ genesys_finance.newest_value('built_at') }}
{%- endmacro %}


{#- The conversations extracted since `relation` (default: this model) last took a batch (its
    newest `extracted_at`): the same batch `replace_conversations` deletes. -#}
{% macro conversations_extracted_since(relation=none) -%}
    select conversation_id from {{ genesys_finance.conversation_batch() }}
    where extracted_at > coalesce(
        {{ genesys_finance.conversation_watermark(relation) }}, {{ genesys_finance.epoch_start() }}
    )
{%- endmacro %}


{#- Custom incremental strategy `replace_rows`: delete the rows of the target the model's macro
    `config.replaced_rows` selects (a boolean SQL predicate over the target's columns, given the
    relation of the new rows), then insert the new rows. The predicate is evaluated before anything
    is deleted, on the same state the model's select read. -#}
{% macro get_incremental_replace_rows_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set cols = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    {%- set replaced = config.get('replaced_rows') -%}
    {%- if not replaced -%}
        {{ exceptions.raise_compiler_error(
            "strategy replace_rows: model " ~ this ~ " sets no `replaced_rows` macro") }}
    {%- endif -%}
    delete from {{ target }}
    where {{ genesys_finance[replaced](source) }};
    insert into {{ target }} ({{ cols }})
    select {{ cols }} from {{ source }}
{%- endmacro %}
