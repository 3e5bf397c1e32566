{#
    One row per product of dim_products, from the daily product sales (no order line is read here).
    "Last 90 days" are the 90 days ending on the latest order date in the data (any status), never
    now(): the dataset may be a replayed past.

    Inventory status compares each product's units sold in those 90 days with the median product
    of the catalog (unsold products count as 0): below var slow_mover_red_share (0.40) of the median,
    or nothing sold, is 'slow-moving' (red); below var slow_mover_orange_share (0.65) is 'watch'
    (orange); the rest is 'healthy' (green). docs/dashboards.md explains the rule.
#}
{{
    config(
        indexes=[
            {'columns': ['status_sort', 'revenue']},
            {'columns': ['category']},
        ]
    )
}}

{%- set window_days = var('slow_mover_window_days') %}

with

products as (

    select * from {{ ref('dim_products') }}

),

daily_sales as (

    select * from {{ ref('mart_daily_product_sales') }}

),

-- Rows exist for every day with an order line of any status, so this is the latest order date.
anchor as (

    select max(date_day) as latest_order_date
    from daily_sales

),

product_sales as (

    select
        daily_sales.product_id,
        sum(daily_sales.orders) as order_count,
        sum(daily_sales.units) as units_sold,
        sum(daily_sales.revenue) as revenue,
        max(daily_sales.last_sold_at) as last_sold_at,
        sum(daily_sales.units) filter (
            where daily_sales.date_day > anchor.latest_order_date - {{ window_days }}
        ) as units_in_window,
        sum(daily_sales.revenue) filter (
            where daily_sales.date_day > anchor.latest_order_date - {{ window_days }}
        ) as revenue_in_window

    from daily_sales
    cross join anchor
    group by daily_sales.product_id

),

joined as (

    select
        products.product_id,
        products.product_key,
        products.title,
        products.category,
        products.price,
        products.rating_rate,
        products.rating_count,
        product_sales.last_sold_at,
        coalesce(product_sales.order_count, 0) as order_count,
        coalesce(product_sales.units_sold, 0) as units_sold,
        coalesce(product_sales.revenue, 0) as revenue,
        coalesce(product_sales.units_in_window, 0) as units_last_90d,
        coalesce(product_sales.revenue_in_window, 0) as revenue_last_90d,
        anchor.latest_order_date - {{ utc_date('product_sales.last_sold_at') }} as days_since_last_sale

    from products
    cross join anchor
    left join product_sales
        on products.product_id = product_sales.product_id

),

catalog_median as (

    select
        cast(
            percentile_cont(0.5) within group (order by joined.units_last_90d) as numeric
        ) as median_units_last_90d

    from joined

),

compared as (

    select
        joined.*,
        catalog_median.median_units_last_90d,
        joined.units_last_90d / nullif(catalog_median.median_units_last_90d, 0) as share_of_median

    from joined
    cross join catalog_median

),

classified as (

    select
        *,
        case
            when
                units_last_90d = 0
                or units_last_90d < {{ var('slow_mover_red_share') }} * median_units_last_90d
                then 'slow-moving'
            when units_last_90d < {{ var('slow_mover_orange_share') }} * median_units_last_90d
                then 'watch'
            else 'healthy'
        end as inventory_status

    from compared

),

final as (

    select
        cast(product_id as integer) as product_id,
        cast(product_key as text) as product_key,
        cast(title as text) as title,
        cast(category as text) as category,
        cast(price as numeric(10, 2)) as price,
        cast(rating_rate as numeric(3, 1)) as rating_rate,
        cast(rating_count as integer) as rating_count,
        cast(order_count as integer) as order_count,
        cast(units_sold as integer) as units_sold,
        cast(revenue as numeric(12, 2)) as revenue,
        cast(round(revenue / nullif(units_sold, 0), 2) as numeric(12, 2)) as avg_item_value,
        cast(last_sold_at as timestamptz) as last_sold_at,
        cast(days_since_last_sale as integer) as days_since_last_sale,
        cast(units_last_90d as integer) as units_last_90d,
        cast(revenue_last_90d as numeric(12, 2)) as revenue_last_90d,
        cast(median_units_last_90d as numeric(12, 1)) as median_units_last_90d,
        cast(round(share_of_median, 4) as numeric(8, 4)) as share_of_median,
        cast(inventory_status as text) as inventory_status,
        cast(
            case inventory_status
                when 'slow-moving' then 1
                when 'watch' then 2
                when 'healthy' then 3
            end as integer
        ) as status_sort

    from classified

)

select * from final
