select
    pp.inventory_status,
    pp.title,
    pp.share_of_median,
    pp.units_last_90d,
    pp.revenue_last_90d,
    pp.category,
    pp.last_sold_at
from marts.mart_product_performance as pp
order by pp.status_sort, pp.share_of_median nulls first, pp.product_id
