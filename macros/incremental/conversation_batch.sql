{#- Incremental flattening. Each flattened model holds `extracted_at` (when the conversation version
    was fetched). A run reads only conversations extracted after the newest one already in the
    model. Each load's `extracted_at` values are later than every earlier load's (the extractor stamps
    the fetch time of each results page), so `>` misses nothing; var `genesys_incremental_lookback_hours`
    re-reads a window of earlier loads if that ever needs relaxing (harmless: the rows of each
    conversation are replaced as a whole).
    Not microbatch: its batches are windows of an event time (conversation start), but a late update
    re-delivers an old conversation, and dbt-postgres microbatch MERGEs (never deletes) while dbt-duckdb
    deletes the window: neither replaces one conversation's rows at every grain. -#}

{% macro conversation_watermark(relation=none) -%}
    {%- set lookback = var('genesys_incremental_lookback_hours', 0) | int -%}
    {%- set newest = genesys_finance.newest_extracted_at(relation or this) -%}
    {%- if lookback > 0 -%}
        {{ dbt.dateadd('hour', -lookback, newest) }}
    {%- else -%}
        {{ newest }}
    {%- endif -%}
{%- endmacro %}


{#- The newest `extracted_at` of `relation`, read when the model runs and written into its SQL as a
    constant (NULL when the relation is empty). As a subquery it cost a scan of the whole model on
    Postgres, twice per model and run, and kept both engines from pruning the batch read: a constant
    is an index range on Postgres (the `+indexes` of dbt_project.yml) and skips row groups by zone
    map on DuckDB.
    Read as text so the value round-trips exactly (microseconds, offset). -#}
{% macro newest_extracted_at(relation) -%}
    {%- set type = genesys_finance.type_timestamptz() -%}
    {%- if not execute -%}
        {{ return("(select max(extracted_at) from " ~ relation ~ ")") }}
    {%- endif -%}
    {%- set newest = run_query(
        "select cast(max(extracted_at) as " ~ dbt.type_string() ~ ") from " ~ relation
    ).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return("cast(null as " ~ type ~ ")") }}
    {%- endif -%}
    {{ return("cast('" ~ newest ~ "' as " ~ type ~ ")") }}
{%- endmacro %}


{#- The batch model: every conversation's latest version with its `extracted_at`, built first. A run's
    batch is its conversations extracted after the reading model's watermark. -#}
{% macro conversation_batch() -%}
    {{ return(ref('stg_genesys__conversations')) }}
{%- endmacro %}


{#- `where` clause of the rows to (re)process; empty on a first run or a full refresh. Every model
    reading its input through it also depends on the batch model (the `ref` below), which the
    `replace_conversations` strategy reads after the model's select: declared here, where the batch
    is defined, so no model needs a `-- depends_on` comment. -#}
{% macro conversation_batch_filter(column='extracted_at') -%}
    {%- if model.name != 'stg_genesys__conversations' -%}
        {%- do genesys_finance.conversation_batch() -%}
    {%- endif -%}
    {%- if is_incremental() -%}
        where {{ column }} > coalesce({{ genesys_finance.conversation_watermark() }}, {{ genesys_finance.epoch_start() }})
    {%- endif -%}
{%- endmacro %}


{% macro epoch_start() -%}
    cast('1970-01-01 00:00:00+00' as {{ genesys_finance.type_timestamptz() }})
{%- endmacro %}


{#- Custom incremental strategy `replace_conversations`: delete every row of each conversation in this
    run's batch, then insert the new rows. Unlike `delete+insert` keyed on the new rows, a conversation
    whose new version has no rows at this grain (a session that lost its metrics, say) still loses its
    old rows, so an incremental model always equals a full refresh. The batch comes from
    `conversation_batch()` (a dependency of every model reading through `conversation_batch_filter`). -#}
{% macro get_incremental_replace_conversations_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set cols = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ target }}
    where conversation_id in (
        select conversation_id from {{ source }}
        union all
        select conversation_id from {{ genesys_finance.conversation_batch() }}
        where extracted_at > coalesce(
            {{ genesys_finance.conversation_watermark(target) }}, {{ genesys_finance.epoch_start() }}
        )
    );
    insert into {{ target }} ({{ cols }})
    select {{ cols }} from {{ source }}
{%- endmacro %}


{#- The raw conversations as the flattened models read them: ids cast to `text`, the type their
    contracts declare. dlt creates them as `varchar` on Postgres, which the first run's contract
    turns into `text`; the next incremental run then saw `character varying` against `text` and
    `on_schema_change: fail` stopped it. -#}
{% macro raw_conversations() -%}
    (
        select
            cast(conversation_id as text) as conversation_id,
            conversation_start,
            conversation_end,
            payload,
            extracted_at,
            cast(job_id as text) as job_id
        from {{ source('genesys', 'conversations') }}
    ) as raw_conversations
{%- endmacro %}
