-- Days add up to all revenue: mart_daily_revenue reconciles with fact_orders (a dbt test).
select coalesce(sum(dr.revenue), 0)::numeric(14, 2) as total_revenue
from marts.mart_daily_revenue as dr
