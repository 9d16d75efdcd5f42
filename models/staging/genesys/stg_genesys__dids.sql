with

source as (
    select * from {{ source_or_empty('genesys', 'dids') }} as dids
),

renamed as (
    select
        ----------  ids
        cast(id as {{ dbt.type_string() }}) as did_id,
        cast(did_pool_id as {{ dbt.type_string() }}) as did_pool_id,

        ---------- properties (the org's own numbers: not PII)
        cast(phone_number as {{ dbt.type_string() }}) as phone_number,
        cast(owner_type as {{ dbt.type_string() }}) as owner_type,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from source
)

select * from renamed
