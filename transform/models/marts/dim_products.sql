{{
    config(
        indexes=[
            {'columns': ['product_id'], 'unique': true},
            {'columns': ['category']},
        ]
    )
}}

with

products as (

    select * from {{ ref('int_products_latest') }}

),

final as (

    select
        cast({{ surrogate_key(['product_id']) }} as text) as product_key,
        cast(product_id as integer) as product_id,
        cast(title as text) as title,
        cast(category as text) as category,
        cast(price as numeric(10, 2)) as price,
        cast(rating_rate as numeric(3, 1)) as rating_rate,
        cast(rating_count as integer) as rating_count,
        cast(image_url as text) as image_url,
        cast(description as text) as description

    from products

)

select * from final
