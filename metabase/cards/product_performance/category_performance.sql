with revenue_lines as (
    select
        fo.order_id,
        fo.product_key,
        fo.quantity,
        fo.line_revenue
    from marts.fact_orders as fo
    where fo.is_revenue
),

category_totals as (
    -- from the catalog outwards, so a category with no sales still shows as zeros
    select
        dp.category,
        count(distinct rl.order_id) as orders,
        coalesce(sum(rl.quantity), 0) as units,
        coalesce(sum(rl.line_revenue), 0) as revenue
    from marts.dim_products as dp
    left join revenue_lines as rl on dp.product_key = rl.product_key
    group by dp.category
)

select
    ct.category,
    ct.orders,
    ct.units,
    ct.revenue,
    round(ct.revenue / nullif(ct.units, 0), 2) as avg_item_value
from category_totals as ct
order by ct.revenue desc, ct.category
