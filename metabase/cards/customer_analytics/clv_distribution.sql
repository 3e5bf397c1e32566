with bins as (
    select
        b.bin_label,
        b.bin_sort,
        b.lower_bound,
        b.upper_bound
    from (
        values
        ('under $100', 1, 0, 100),
        ('$100-249', 2, 100, 250),
        ('$250-499', 3, 250, 500),
        ('$500-999', 4, 500, 1000),
        ('$1,000-2,499', 5, 1000, 2500),
        ('$2,500-4,999', 6, 2500, 5000),
        ('$5,000+', 7, 5000, null)
    ) as b (bin_label, bin_sort, lower_bound, upper_bound)
),

buyers as (
    select clv.lifetime_revenue
    from marts.mart_customer_lifetime_value as clv
    where clv.order_count > 0
)

select
    b.bin_label as lifetime_value,
    count(bu.lifetime_revenue) as customers
from bins as b
left join buyers as bu
    on
        bu.lifetime_revenue >= b.lower_bound
        and (b.upper_bound is null or bu.lifetime_revenue < b.upper_bound)
group by b.bin_label, b.bin_sort
order by b.bin_sort
