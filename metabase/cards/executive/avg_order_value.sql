with order_totals as (
    select
        fo.order_id,
        sum(fo.line_revenue) as order_revenue
    from marts.fact_orders as fo
    where fo.is_revenue
    group by fo.order_id
)

select round(avg(ot.order_revenue), 2) as avg_order_value
from order_totals as ot
