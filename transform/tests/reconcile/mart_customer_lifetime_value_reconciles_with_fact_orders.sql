-- Revenue orders, lifetime revenue and first/last order per customer equal what fact_orders' lines
-- give; every customer with a revenue order has a row.
with

lines as (

    select
        customer_id,
        count(distinct order_id) as order_count,
        sum(line_revenue) as lifetime_revenue,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at

    from {{ ref('fact_orders') }}
    where is_revenue
    group by customer_id

),

customers as (

    select * from {{ ref('mart_customer_lifetime_value') }}

)

select
    coalesce(customers.customer_id, lines.customer_id) as customer_id,
    lines.lifetime_revenue as fact_revenue,
    customers.lifetime_revenue

from customers
full outer join lines
    on customers.customer_id = lines.customer_id
where
    customers.customer_id is null
    or (
        coalesce(lines.order_count, 0), coalesce(lines.lifetime_revenue, 0), lines.first_order_at,
        lines.last_order_at
    ) is distinct from (
        customers.order_count, customers.lifetime_revenue, customers.first_order_at, customers.last_order_at
    )
