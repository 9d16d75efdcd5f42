-- The rate card rows the rater matches on: one row per card row and, for a row limited to a time
-- band, one per weekday of the band (so a leg joins on its local weekday). The lookups are the
-- org's seeds or the demo's (`lookup()`); this is the only model reading the rate card seeds.

with

rate_cards as (
    select * from {{ lookup('rate_cards') }}
),

time_bands as (
    select * from {{ lookup('time_bands') }}
),

weekdays as (
    select
        weekday_names.iso_weekday,
        weekday_names.day_name
    from (
        values (1, 'Mon'), (2, 'Tue'), (3, 'Wed'), (4, 'Thu'), (5, 'Fri'), (6, 'Sat'), (7, 'Sun')
    ) as weekday_names (iso_weekday, day_name)
),

band_days as (
    select
        time_bands.time_band,
        time_bands.timezone as band_timezone,
        weekdays.iso_weekday as band_iso_weekday,
        {{ clock_text_ms('time_bands.start_local') }} as band_start_ms,
        {{ clock_text_ms('time_bands.end_local') }} as band_end_ms
    from time_bands
    inner join weekdays
        on '|' || replace(time_bands.weekdays, ' ', '') || '|' like '%|' || weekdays.day_name || '|%'
),

joined as (
    select
        cast(rate_cards.carrier as {{ dbt.type_string() }}) as carrier,
        cast(rate_cards.direction as {{ dbt.type_string() }}) as direction,
        -- the CSV's empty prefix (the fallback row) loads as NULL
        cast(coalesce(rate_cards.destination_prefix, '') as {{ dbt.type_string() }})
            as destination_prefix,
        cast(rate_cards.effective_from as date) as effective_from,
        cast(rate_cards.effective_to as date) as effective_to,
        cast(rate_cards.rate_per_minute as {{ type_rate() }}) as rate_per_minute,
        cast(rate_cards.currency as {{ dbt.type_string() }}) as currency,
        cast(rate_cards.min_seconds as bigint) as min_seconds,
        cast(rate_cards.increment_seconds as bigint) as increment_seconds,
        cast(rate_cards.connection_fee as {{ type_money() }}) as connection_fee,
        cast(rate_cards.time_band as {{ dbt.type_string() }}) as time_band,
        -- a card row naming a band that time_bands lacks keeps NULLs here and so never matches
        cast(band_days.band_timezone as {{ dbt.type_string() }}) as band_timezone,
        cast(band_days.band_iso_weekday as integer) as band_iso_weekday,
        cast(band_days.band_start_ms as bigint) as band_start_ms,
        cast(band_days.band_end_ms as bigint) as band_end_ms
    from rate_cards
    left join band_days
        on rate_cards.time_band = band_days.time_band
)

select * from joined
