{{ config(materialized='table') }}

-- One row per UTC day, 2020 to 2039: the time spine dbt's semantic layer needs (MetricFlow joins
-- metrics to it for time ranges and offsets). Nothing else reads it.

with

days as (
    {{ dbt.date_spine('day', "cast('2020-01-01' as date)", "cast('2040-01-01' as date)") }}
),

final as (
    select cast(date_day as date) as date_day
    from days
)

select * from final
