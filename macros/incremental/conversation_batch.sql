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
    {%- set newest = "(select max(extracted_at) from " ~ (relation or this) ~ ")" -%}
    {%- if lookback > 0 -%}
        {{ dbt.dateadd('hour', -lookback, newest) }}
    {%- else -%}
        {{ newest }}
    {%- endif -%}
{%- endmacro %}


{#- `where` clause of the rows to (re)process; empty on a first run or a full refresh. -#}
{% macro conversation_batch_filter(column='extracted_at') -%}
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
    old rows, so an incremental model always equals a full refresh. The batch is read from
    `stg_genesys__conversations`, which is built first and holds every conversation's latest
    `extracted_at`; models using this strategy declare `-- depends_on:` on it. -#}
{% macro get_incremental_replace_conversations_sql(arg_dict) -%}
    {%- set target = arg_dict["target_relation"] -%}
    {%- set source = arg_dict["temp_relation"] -%}
    {%- set cols = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ target }}
    where conversation_id in (
        select conversation_id from {{ source }}
        union all
        select conversation_id from {{ ref('stg_genesys__conversations') }}
        where extracted_at > coalesce(
            {{ genesys_finance.conversation_watermark(target) }}, {{ genesys_finance.epoch_start() }}
        )
    );
    insert into {{ target }} ({{ cols }})
    select {{ cols }} from {{ source }}
{%- endmacro %}
