with

order_item_versions as (

    select * from {{ ref('stg_shop__order_items') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_item_id
            order by updated_at desc, extract_date desc
        ) as recency_rank

    from order_item_versions

),

latest as (

    select
        order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        created_at,
        updated_at,
        extract_date

    from ranked
    where recency_rank = 1

)

select * from latest
