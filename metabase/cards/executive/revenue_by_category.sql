with category_revenue as (
    -- categories with at least one revenue order, as when summing revenue lines
    select
        dcs.category,
        sum(dcs.revenue) as revenue
    from marts.mart_daily_category_sales as dcs
    where dcs.orders > 0
    group by dcs.category
)

select
    cr.category,
    cr.revenue
from category_revenue as cr
order by cr.revenue desc, cr.category
