{{
    config(
        indexes=[
            {'columns': ['value_segment_sort', 'revenue_rank']},
            {'columns': ['revenue_rank', 'customer_id']},
            {'columns': ['customer_key']},
        ]
    )
}}

with

current_customers as (

    select * from {{ ref('dim_customers') }}
    where is_current

),

revenue_orders as (

    select * from {{ ref('fact_order_totals') }}
    where is_revenue

),

customer_orders as (

    select
        customer_id,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at,
        count(*) as order_count,
        sum(order_revenue) as lifetime_revenue

    from revenue_orders
    group by customer_id

),

joined as (

    select
        current_customers.customer_id,
        current_customers.customer_key,
        current_customers.full_name,
        current_customers.email_hash,
        current_customers.email_masked,
        current_customers.city,
        current_customers.country,
        current_customers.loyalty_segment,
        current_customers.registered_at,
        customer_orders.first_order_at,
        customer_orders.last_order_at,
        coalesce(customer_orders.order_count, 0) as order_count,
        coalesce(customer_orders.lifetime_revenue, 0) as lifetime_revenue

    from current_customers
    left join customer_orders
        on current_customers.customer_id = customer_orders.customer_id

),

segmented as (

    select
        *,
        case
            when lifetime_revenue >= {{ var('value_segment_vip_min') }} then 'VIP'
            when lifetime_revenue >= {{ var('value_segment_high_min') }} then 'High'
            when lifetime_revenue >= {{ var('value_segment_medium_min') }} then 'Medium'
            else 'Low'
        end as value_segment

    from joined

),

final as (

    select
        cast(customer_id as bigint) as customer_id,
        cast(customer_key as text) as customer_key,
        cast(full_name as text) as full_name,
        cast(email_hash as text) as email_hash,
        cast(email_masked as text) as email_masked,
        cast(city as text) as city,
        cast(country as text) as country,
        cast(loyalty_segment as text) as loyalty_segment,
        cast(registered_at as timestamptz) as registered_at,
        cast(first_order_at as timestamptz) as first_order_at,
        cast(last_order_at as timestamptz) as last_order_at,
        cast(order_count as integer) as order_count,
        cast(lifetime_revenue as numeric(12, 2)) as lifetime_revenue,
        cast(round(lifetime_revenue / nullif(order_count, 0), 2) as numeric(12, 2)) as avg_order_value,
        cast(value_segment as text) as value_segment,
        cast(
            case value_segment
                when 'VIP' then 1
                when 'High' then 2
                when 'Medium' then 3
                when 'Low' then 4
            end as integer
        ) as value_segment_sort,
        cast(rank() over (order by lifetime_revenue desc) as integer) as revenue_rank,
        cast({{ country_region('country') }} as text) as region

    from segmented

)

select * from final
