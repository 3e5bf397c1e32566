{#
    Customers and their lifetime revenue per value segment (VIP, High, Medium, Low); all four
    segments are always present. Low includes registered customers who never ordered.
#}

with

segments as (

    select *
    from (
        values
        ('VIP', 1),
        ('High', 2),
        ('Medium', 3),
        ('Low', 4)
    ) as segment_list (value_segment, value_segment_sort)

),

customers as (

    select * from {{ ref('mart_customer_lifetime_value') }}

),

-- Left join from the segment list: an empty segment is a row with 0 customers.
counted as (

    select
        segments.value_segment,
        segments.value_segment_sort,
        count(customers.customer_id) as customer_count,
        coalesce(sum(customers.lifetime_revenue), 0) as lifetime_revenue

    from segments
    left join customers
        on segments.value_segment = customers.value_segment
    group by segments.value_segment, segments.value_segment_sort

),

final as (

    select
        cast(value_segment as text) as value_segment,
        cast(value_segment_sort as integer) as value_segment_sort,
        cast(customer_count as integer) as customers,
        cast(lifetime_revenue as numeric(14, 2)) as lifetime_revenue

    from counted

)

select * from final
