with

source as (
    select * from {{ source_or_empty('genesys', 'dids') }}
),

renamed as (
    select
        ----------  ids
        cast(id as {{ dbt.type_string() }}) as did_id,
        cast(did_pool_id as {{ dbt.type_string() }}) as did_pool_id,

        ---------- the org's own number, not PII (E.164 digits, no `+`)
        nullif({{ number_digits('phone_number') }}, '') as did_number,

        ---------- properties
        cast(owner_type as {{ dbt.type_string() }}) as owner_type,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from source
)

select * from renamed
