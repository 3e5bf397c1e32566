with segments as (
    select
        s.value_segment,
        s.value_segment_sort
    from (
        values ('VIP', 1), ('High', 2), ('Medium', 3), ('Low', 4)
    ) as s (value_segment, value_segment_sort)
),

segment_totals as (
    select
        clv.value_segment,
        count(clv.customer_id) as customers,
        sum(clv.lifetime_revenue) as lifetime_revenue
    from marts.mart_customer_lifetime_value as clv
    group by clv.value_segment
)

select
    s.value_segment,
    coalesce(st.customers, 0) as customers,
    coalesce(st.lifetime_revenue, 0) as lifetime_revenue
from segments as s
left join segment_totals as st on s.value_segment = st.value_segment
order by s.value_segment_sort
