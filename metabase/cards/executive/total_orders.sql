with revenue_orders as (
    select distinct fo.order_id
    from marts.fact_orders as fo
    where fo.is_revenue
)

select count(ro.order_id) as total_orders
from revenue_orders as ro
