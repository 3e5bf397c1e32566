-- revenue_rank is rank() by lifetime revenue (highest first): ordering by it, then customer_id,
-- reads the first rows of the (revenue_rank, customer_id) index instead of sorting every customer.
select
    clv.revenue_rank,
    clv.full_name,
    clv.city,
    clv.country,
    clv.value_segment,
    clv.order_count,
    clv.lifetime_revenue,
    clv.avg_order_value,
    clv.last_order_at
from marts.mart_customer_lifetime_value as clv
where clv.lifetime_revenue > 0
order by clv.revenue_rank, clv.customer_id
limit 20
