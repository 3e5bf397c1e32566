select
    pp.title,
    pp.category,
    pp.revenue,
    pp.units_sold
from marts.mart_product_performance as pp
where pp.revenue > 0
order by pp.revenue desc, pp.product_id
limit 10
