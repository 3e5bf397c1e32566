with latest_order as (
    select max(fo.ordered_at at time zone 'UTC')::date as last_date
    from marts.fact_orders as fo
),

active_customers as (
    select distinct fo.customer_id
    from marts.fact_orders as fo
    cross join latest_order as lo
    where (fo.ordered_at at time zone 'UTC')::date > lo.last_date - 30
)

select count(ac.customer_id) as active_customers
from active_customers as ac
