-- Client contracts, typed: which client a queue (or, for queues without their own row, a division)
-- serves, at which price, from when. The only model reading the `client_contracts` lookup.

with

contracts as (
    select * from {{ lookup('client_contracts') }}
),

typed as (
    select
        cast(client as {{ dbt.type_string() }}) as client,
        cast(queue_id as {{ dbt.type_string() }}) as queue_id,
        cast(division_id as {{ dbt.type_string() }}) as division_id,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to,
        cast(price_per_minute as {{ type_rate() }}) as price_per_minute,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(min_seconds as bigint) as min_seconds,
        cast(increment_seconds as bigint) as increment_seconds
    from contracts
)

select * from typed
