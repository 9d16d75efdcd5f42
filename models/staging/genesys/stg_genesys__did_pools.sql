with

source as (
    select * from {{ source_or_empty('genesys', 'did_pools') }}
),

renamed as (
    select
        ----------  ids
        cast(id as {{ dbt.type_string() }}) as did_pool_id,

        ---------- the range: the org's own numbers, not PII (E.164 digits, no `+`)
        nullif({{ number_digits('start_phone_number') }}, '') as start_number,
        nullif({{ number_digits('end_phone_number') }}, '') as end_number,

        ---------- properties
        cast(provider as {{ dbt.type_string() }}) as provider,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from source
)

select * from renamed
