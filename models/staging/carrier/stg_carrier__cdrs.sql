{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='cdr_id',
        on_schema_change='fail',
        post_hook="{{ genesys_finance.finance_post_hook() }}",
    )
}}

-- A table, masked once per CDR line as it arrives: as a view, every read re-ran the masking's
-- regexes over every CDR (behind `offset 0` on Postgres, so no filter reached below it), and the
-- matching reads the CDRs several times per run (172 s of the 1M Postgres build; bench/RESULTS.md).
-- Incremental on the raw `loaded_at`: the loader only ever inserts (lines are keyed on
-- file content and line, a file loaded again adds nothing) and stamps each load's lines with the
-- load's start, later than every earlier load's. `>=` with the lines already held at the newest
-- instant left out: lines of a load committed in parts are all taken, none twice. Rows are never
-- deleted from the raw table; after deleting some there, build with `--full-refresh`.
{%- if is_incremental() %}
    {%- set newest = genesys_finance.newest_value('loaded_at') %}
{%- endif %}

with

raw_cdrs as (
    select * from {{ source_or_empty('carrier', 'cdrs') }}
),

source as (
    select * from raw_cdrs
    {% if is_incremental() -%}
        -- `not exists`, not `not in`: an anti-join on Postgres, not a subplan per row
        where raw_cdrs.loaded_at >= {{ newest }}
            and not exists (
                select 1 as held from {{ this }} as held
                where held.loaded_at >= {{ newest }}
                    and held.cdr_id = raw_cdrs.cdr_id
            )
    {%- endif %}
),

renamed as (
    select
        ----------  ids
        -- text columns cast: one type whether the table is loaded (dlt's varchar) or not yet
        -- (an empty stand-in), which the incremental finance models downstream keep
        cast(cdr_id as {{ dbt.type_string() }}) as cdr_id,
        cast(sip_call_id as {{ dbt.type_string() }}) as sip_call_id,
        -- absent from a table last loaded before the loader wrote it: NULL (README, migration)
        {{ column_if_present(source('carrier', 'cdrs'), 'sip_call_id_normalised', dbt.type_string()) }},
        cast(invoice_id as {{ dbt.type_string() }}) as invoice_id,

        ---------- properties
        cast(carrier as {{ dbt.type_string() }}) as carrier,
        cast(direction as {{ dbt.type_string() }}) as direction,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(calling_number_last4 as {{ dbt.type_string() }}) as calling_number_last4,
        cast(calling_number_prefix as {{ dbt.type_string() }}) as calling_number_prefix,
        cast(called_number_last4 as {{ dbt.type_string() }}) as called_number_last4,
        cast(called_number_prefix as {{ dbt.type_string() }}) as called_number_prefix,
        cast(calling_number_org as {{ dbt.type_string() }}) as calling_number_org,
        cast(called_number_org as {{ dbt.type_string() }}) as called_number_org,

        ---------- timestamps
        cast(start_time as {{ type_timestamptz() }}) as start_time,
        cast(answer_time as {{ type_timestamptz() }}) as answer_time,
        cast(end_time as {{ type_timestamptz() }}) as end_time,

        ---------- durations and money (exact types: integer ms, fixed-point decimals)
        cast(duration_ms as bigint) as carrier_duration_ms,
        cast(billed_seconds as bigint) as billed_seconds,
        cast(rate_per_minute as numeric(18, 8)) as rate_per_minute,
        cast(billed_amount as numeric(18, 6)) as billed_amount,

        ---------- lineage
        cast(source_format as {{ dbt.type_string() }}) as source_format,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_line as bigint) as source_line,
        cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
        cast(loaded_at as {{ type_timestamptz() }}) as loaded_at
    from source
)

{{ select_masked('renamed') }}
