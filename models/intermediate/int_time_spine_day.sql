{{ config(materialized='incremental', unique_key='date_day', on_schema_change='fail') }}

-- One row per UTC day, 2020 to 2039: the time spine dbt's semantic layer needs (MetricFlow joins
-- metrics to it for time ranges and offsets; the incremental finance marts list months with it).
-- Incremental only so that a run does not rebuild it: its rows never change.

with

days as (
    {{ dbt.date_spine('day', "cast('2020-01-01' as date)", "cast('2040-01-01' as date)") }}
),

final as (
    select cast(date_day as date) as date_day
    from days
    {% if is_incremental() -%}
        where false
    {%- endif %}
)

select * from final
