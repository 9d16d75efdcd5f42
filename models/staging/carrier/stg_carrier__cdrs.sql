with

source as (
    select * from {{ source_or_empty('carrier', 'cdrs') }}
),

renamed as (
    select
        ----------  ids
        cdr_id,
        sip_call_id,
        -- absent from a table last loaded before the loader wrote it: NULL (README, migration)
        {{ column_if_present(source('carrier', 'cdrs'), 'sip_call_id_normalised', dbt.type_string()) }},
        invoice_id,

        ---------- properties
        carrier,
        direction,
        currency,
        calling_number_last4,
        calling_number_prefix,
        called_number_last4,
        called_number_prefix,
        calling_number_org,
        called_number_org,

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
        source_format,
        source_file,
        cast(source_line as bigint) as source_line,
        file_sha256,
        cast(loaded_at as {{ type_timestamptz() }}) as loaded_at
    from source
)

{{ select_masked('renamed') }}
