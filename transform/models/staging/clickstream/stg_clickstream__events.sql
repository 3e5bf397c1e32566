with

source as (

    select * from {{ source('clickstream', 'clickstream_events') }}

),

renamed as (

    select
        event_id,
        session_id,
        visitor_id,
        customer_id,
        event_type,
        product_id,
        order_id,
        device_type,
        referrer,
        event_time as event_at,
        dt as extract_date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
