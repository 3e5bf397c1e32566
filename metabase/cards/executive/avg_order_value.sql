-- The mean of the revenue orders' totals: all revenue over all revenue orders.
select round(sum(dr.revenue) / nullif(sum(dr.orders), 0), 2) as avg_order_value
from marts.mart_daily_revenue as dr
