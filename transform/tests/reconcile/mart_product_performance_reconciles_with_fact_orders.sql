-- All-time revenue orders, units, revenue and last sale per product equal what fact_orders' lines
-- give; products without revenue lines have zeros.
with

lines as (

    select
        product_id,
        count(distinct order_id) as order_count,
        sum(quantity) as units_sold,
        sum(line_revenue) as revenue,
        max(ordered_at) as last_sold_at

    from {{ ref('fact_orders') }}
    where is_revenue
    group by product_id

),

products as (

    select * from {{ ref('mart_product_performance') }}

)

select
    coalesce(products.product_id, lines.product_id) as product_id,
    lines.revenue as fact_revenue,
    products.revenue

from products
full outer join lines
    on products.product_id = lines.product_id
where
    products.product_id is null
    or (
        coalesce(lines.order_count, 0), coalesce(lines.units_sold, 0), coalesce(lines.revenue, 0),
        lines.last_sold_at
    ) is distinct from (products.order_count, products.units_sold, products.revenue, products.last_sold_at)
