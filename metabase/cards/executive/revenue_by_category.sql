with category_revenue as (
    select
        dp.category,
        sum(fo.line_revenue) as revenue
    from marts.fact_orders as fo
    inner join marts.dim_products as dp on fo.product_key = dp.product_key
    where fo.is_revenue
    group by dp.category
)

select
    cr.category,
    cr.revenue
from category_revenue as cr
order by cr.revenue desc, cr.category
