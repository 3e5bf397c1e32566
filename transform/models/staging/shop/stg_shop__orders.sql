with

source as (

    select * from {{ source('shop', 'shop_orders') }}

),

renamed as (

    select
        order_id,
        customer_id,
        ordered_at,
        status as order_status,
        payment_method,
        created_at,
        updated_at,
        dt as extract_date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
