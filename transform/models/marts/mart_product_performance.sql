{#
    "Last 30 days" is the 30 days ending on the latest order date in the data (any status), never
    now(): the dataset may be a replayed past. Inventory thresholds are dbt vars (dbt_project.yml).
#}
{{
    config(
        indexes=[
            {'columns': ['status_sort', 'revenue']},
            {'columns': ['category']},
        ]
    )
}}

with

products as (

    select * from {{ ref('dim_products') }}

),

order_lines as (

    select * from {{ ref('fact_orders') }}

),

anchor as (

    select max({{ utc_date('ordered_at') }}) as latest_order_date
    from order_lines

),

product_sales as (

    select
        order_lines.product_id,
        count(distinct order_lines.order_id) as order_count,
        sum(order_lines.quantity) as units_sold,
        sum(order_lines.line_revenue) as revenue,
        max(order_lines.ordered_at) as last_sold_at,
        coalesce(sum(order_lines.quantity) filter (
            where {{ utc_date('order_lines.ordered_at') }} > anchor.latest_order_date - 30
        ), 0) as units_last_30d,
        coalesce(sum(order_lines.line_revenue) filter (
            where {{ utc_date('order_lines.ordered_at') }} > anchor.latest_order_date - 30
        ), 0) as revenue_last_30d

    from order_lines
    cross join anchor
    where order_lines.is_revenue
    group by order_lines.product_id

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
        coalesce(product_sales.units_last_30d, 0) as units_last_30d,
        coalesce(product_sales.revenue_last_30d, 0) as revenue_last_30d,
        anchor.latest_order_date - {{ utc_date('product_sales.last_sold_at') }} as days_since_last_sale

    from products
    cross join anchor
    left join product_sales
        on products.product_id = product_sales.product_id

),

classified as (

    select
        *,
        case
            when
                days_since_last_sale is null
                or days_since_last_sale >= {{ var('inventory_slow_moving_days') }}
                then 'slow-moving'
            when
                days_since_last_sale >= {{ var('inventory_watch_days') }}
                or units_last_30d < {{ var('inventory_watch_min_units_30d') }}
                then 'watch'
            else 'healthy'
        end as inventory_status

    from joined

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
        cast(units_last_30d as integer) as units_last_30d,
        cast(revenue_last_30d as numeric(12, 2)) as revenue_last_30d,
        cast(days_since_last_sale as integer) as days_since_last_sale,
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
