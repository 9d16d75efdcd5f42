with

source as (
    select * from {{ source_or_empty('genesys', 'did_pools') }} as did_pools
),

renamed as (
    select
        ----------  ids
        cast(id as {{ dbt.type_string() }}) as did_pool_id,

        ---------- properties (the org's own numbers: not PII)
        cast(start_phone_number as {{ dbt.type_string() }}) as start_phone_number,
        cast(end_phone_number as {{ dbt.type_string() }}) as end_phone_number,
        cast(provider as {{ dbt.type_string() }}) as provider,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from source
)

select * from renamed
