select
    pp.title,
    pp.category,
    pp.inventory_status,
    pp.days_since_last_sale,
    pp.units_last_30d,
    pp.revenue_last_30d,
    pp.last_sold_at
from marts.mart_product_performance as pp
order by pp.status_sort, pp.days_since_last_sale desc nulls first, pp.product_id
