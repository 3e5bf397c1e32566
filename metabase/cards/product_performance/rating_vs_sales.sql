select
    pp.title,
    pp.category,
    pp.rating_rate,
    pp.rating_count,
    pp.units_sold,
    pp.revenue
from marts.mart_product_performance as pp
order by pp.product_id
