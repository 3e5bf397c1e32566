-- Customers and lifetime revenue per value segment equal what fact_orders' revenue lines give for
-- the current customers of dim_customers (segment thresholds: the dbt vars).
with

revenue as (

    select
        customer_id,
        sum(line_revenue) as lifetime_revenue

    from {{ ref('fact_orders') }}
    where is_revenue
    group by customer_id

),

customers as (

    select
        dim_customers.customer_id,
        coalesce(revenue.lifetime_revenue, 0) as lifetime_revenue

    from {{ ref('dim_customers') }} as dim_customers
    left join revenue
        on dim_customers.customer_id = revenue.customer_id
    where dim_customers.is_current

),

segmented as (

    select
        case
            when lifetime_revenue >= {{ var('value_segment_vip_min') }} then 'VIP'
            when lifetime_revenue >= {{ var('value_segment_high_min') }} then 'High'
            when lifetime_revenue >= {{ var('value_segment_medium_min') }} then 'Medium'
            else 'Low'
        end as value_segment,
        count(*) as customers,
        sum(lifetime_revenue) as lifetime_revenue

    from customers
    group by 1

)

select
    segments.value_segment,
    segments.customers,
    segmented.customers as fact_customers

from {{ ref('mart_value_segments') }} as segments
left join segmented
    on segments.value_segment = segmented.value_segment
where
    (segments.customers, segments.lifetime_revenue)
    is distinct from (coalesce(segmented.customers, 0), coalesce(segmented.lifetime_revenue, 0))
