with

source as (

    select * from {{ source('shop', 'shop_order_items') }}

),

renamed as (

    select
        order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        created_at,
        updated_at,
        dt as extract_date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
