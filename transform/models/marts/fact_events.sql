{{
    config(
        indexes=[
            {'columns': ['event_date_key', 'event_type']},
            {'columns': ['event_at']},
            {'columns': ['customer_id']},
            {'columns': ['product_key']},
        ]
    )
}}

with

events as (

    select * from {{ ref('stg_clickstream__events') }}

),

final as (

    select
        cast(event_id as text) as event_id,
        cast(session_id as text) as session_id,
        cast(visitor_id as text) as visitor_id,
        cast(customer_id as bigint) as customer_id,
        customer_id is null as is_anonymous,
        cast(event_type as text) as event_type,
        cast(
            case event_type
                when 'page_view' then 1
                when 'product_view' then 2
                when 'add_to_cart' then 3
                when 'checkout' then 4
                when 'purchase' then 5
            end as integer
        ) as funnel_step,
        cast(
            case
                when product_id is not null then {{ surrogate_key(['product_id']) }}
            end as text
        ) as product_key,
        cast(product_id as integer) as product_id,
        cast(order_id as bigint) as order_id,
        cast(device_type as text) as device_type,
        cast(referrer as text) as referrer,
        cast(event_at as timestamptz) as event_at,
        cast({{ date_key(utc_date('event_at')) }} as integer) as event_date_key,
        cast({{ utc_hour('event_at') }} as integer) as event_hour

    from events

)

select * from final
