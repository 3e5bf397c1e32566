-- An order has one order date, so the daily revenue orders add up without double counting.
select coalesce(sum(dr.orders), 0) as total_orders
from marts.mart_daily_revenue as dr
