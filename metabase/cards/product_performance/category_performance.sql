with category_sales as (
    -- an order counts once per category and day, and an order has one day, so days add up
    select
        dcs.category,
        sum(dcs.orders) as orders,
        sum(dcs.units) as units,
        sum(dcs.revenue) as revenue
    from marts.mart_daily_category_sales as dcs
    group by dcs.category
),

catalog_categories as (
    -- from the catalog outwards, so a category with no sales still shows as zeros
    select distinct dp.category
    from marts.dim_products as dp
),

category_totals as (
    select
        cc.category,
        coalesce(cs.orders, 0) as orders,
        coalesce(cs.units, 0) as units,
        coalesce(cs.revenue, 0) as revenue
    from catalog_categories as cc
    left join category_sales as cs on cc.category = cs.category
)

select
    ct.category,
    ct.orders,
    ct.units,
    ct.revenue,
    round(ct.revenue / nullif(ct.units, 0), 2) as avg_item_value
from category_totals as ct
order by ct.revenue desc, ct.category
