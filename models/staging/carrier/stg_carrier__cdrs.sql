with

source as (
    select * from {{ source_or_empty('carrier', 'cdrs') }}
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
