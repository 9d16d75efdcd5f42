-- Which carrier a leg's own data points to, before any CDR is matched (DESIGN.md "Finance (wave 2)"):
-- the org's number on the leg (the dialled DID when inbound, the presented caller id when outbound)
-- through the org's DID pools and the `did_pool_carriers` lookup, else the leg's Edge
-- (`carrier_edges`), else var `genesys_finance_default_carrier`. The matched CDR's carrier, when
-- there is one, overrides this hint in `int_voice_legs_rated`. CDR matching reads the hint too, so
-- this model must never depend on the matches.

{%- set default_carrier = var('genesys_finance_default_carrier', none) %}

with

legs as (
    select
        leg_id,
        conversation_id,
        direction,
        edge_id,
        case
            when direction = 'inbound' then dnis_org_number
            when direction = 'outbound' then ani_org_number
        end as org_number
    from {{ ref('int_voice_legs') }}
),

did_pools as (
    select
        did_pool_id,
        start_number,
        end_number
    from {{ ref('stg_genesys__did_pools') }}
),

dids as (
    select
        did_number as phone_number,
        did_pool_id
    from {{ ref('stg_genesys__dids') }}
    where did_pool_id is not null
),

did_pool_carriers as (
    select
        cast(did_pool_id as {{ dbt.type_string() }}) as did_pool_id,
        replace(cast(start_phone_number as {{ dbt.type_string() }}), '+', '') as start_number,
        replace(cast(end_phone_number as {{ dbt.type_string() }}), '+', '') as end_number,
        cast(carrier as {{ dbt.type_string() }}) as carrier
    from {{ lookup('did_pool_carriers') }}
),

carrier_edges as (
    select
        cast(edge_id as {{ dbt.type_string() }}) as edge_id,
        cast(carrier as {{ dbt.type_string() }}) as carrier
    from {{ lookup('carrier_edges') }}
),

numbered_legs as (
    select distinct org_number
    from legs
    where org_number is not null
),

-- the pool of each org number: a DID listed in the pool, or a number inside the pool's range
number_pools as (
    select
        numbered_legs.org_number,
        dids.did_pool_id
    from numbered_legs
    inner join dids
        on numbered_legs.org_number = dids.phone_number
    union
    select
        numbered_legs.org_number,
        did_pools.did_pool_id
    from numbered_legs
    inner join did_pools
        on length(numbered_legs.org_number) = length(did_pools.start_number)
            and length(numbered_legs.org_number) = length(did_pools.end_number)
            and numbered_legs.org_number between did_pools.start_number and did_pools.end_number
),

-- a seed row names a pool, or a number range (E.164 digits, both ends included); a range is the
-- more specific rule and wins, then the range starting last (an inner one), then the carrier name
number_carrier_candidates as (
    select
        number_pools.org_number,
        did_pool_carriers.carrier,
        1 as rule_rank,
        cast(null as {{ dbt.type_string() }}) as range_start
    from number_pools
    inner join did_pool_carriers
        on number_pools.did_pool_id = did_pool_carriers.did_pool_id
    where did_pool_carriers.start_number is null
    union all
    select
        numbered_legs.org_number,
        did_pool_carriers.carrier,
        0 as rule_rank,
        did_pool_carriers.start_number as range_start
    from numbered_legs
    inner join did_pool_carriers
        on length(numbered_legs.org_number) = length(did_pool_carriers.start_number)
            and length(numbered_legs.org_number) = length(did_pool_carriers.end_number)
            and numbered_legs.org_number
            between did_pool_carriers.start_number and did_pool_carriers.end_number
),

number_carriers as (
    select
        org_number,
        carrier,
        row_number() over (
            partition by org_number
            order by rule_rank asc, range_start desc, carrier asc
        ) as preference
    from number_carrier_candidates
),

hinted as (
    select
        legs.leg_id,
        legs.conversation_id,
        legs.org_number,
        number_carriers.carrier as number_carrier,
        carrier_edges.carrier as edge_carrier,
        cast({{ "'" ~ default_carrier ~ "'" if default_carrier else 'null' }} as {{ dbt.type_string() }})
            as default_carrier
    from legs
    left join number_carriers
        on legs.org_number = number_carriers.org_number
            and number_carriers.preference = 1
    left join carrier_edges
        on legs.edge_id = carrier_edges.edge_id
),

final as (
    select
        leg_id,
        conversation_id,
        org_number,
        number_carrier,
        edge_carrier,
        default_carrier,
        coalesce(number_carrier, edge_carrier, default_carrier) as carrier_hint,
        cast(case
            when number_carrier is not null then 'number'
            when edge_carrier is not null then 'edge'
            when default_carrier is not null then 'default'
        end as {{ dbt.type_string() }}) as carrier_hint_source
    from hinted
)

select * from final
