with

source as (
    select * from {{ source_or_empty('genesys', 'queues') }}
),

renamed as (
    select
        ----------  ids
        cast(id as {{ dbt.type_string() }}) as queue_id,
        cast(division_id as {{ dbt.type_string() }}) as division_id,

        ---------- properties
        cast(name as {{ dbt.type_string() }}) as queue_name,

        ---------- lineage
        cast(extracted_at as {{ type_timestamptz() }}) as extracted_at
    from source
)

{{ select_masked('renamed') }}
