with

hours as (

    select event_hour
    from generate_series(0, 23) as hour_of_day (event_hour)

),

events as (

    select * from {{ ref('fact_events') }}

),

hourly as (

    select
        event_hour,
        count(*) as events,
        count(distinct session_id) as sessions,
        count(distinct visitor_id) as visitors,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'product_view') as product_views,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'checkout') as checkouts,
        count(*) filter (where event_type = 'purchase') as purchases

    from events
    group by event_hour

),

-- All 24 hours are always present; hours without traffic show zeros.
final as (

    select
        cast(hours.event_hour as integer) as event_hour,
        cast(coalesce(hourly.events, 0) as bigint) as events,
        cast(coalesce(hourly.sessions, 0) as bigint) as sessions,
        cast(coalesce(hourly.visitors, 0) as bigint) as visitors,
        cast(coalesce(hourly.page_views, 0) as bigint) as page_views,
        cast(coalesce(hourly.product_views, 0) as bigint) as product_views,
        cast(coalesce(hourly.add_to_carts, 0) as bigint) as add_to_carts,
        cast(coalesce(hourly.checkouts, 0) as bigint) as checkouts,
        cast(coalesce(hourly.purchases, 0) as bigint) as purchases

    from hours
    left join hourly
        on hours.event_hour = hourly.event_hour

)

select * from final
