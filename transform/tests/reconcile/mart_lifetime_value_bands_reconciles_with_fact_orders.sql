-- Customers per lifetime revenue band equal what fact_orders' revenue lines give, and every
-- customer with a revenue order is in exactly one band.
with

revenue as (

    select
        customer_id,
        sum(line_revenue) as lifetime_revenue

    from {{ ref('fact_orders') }}
    where is_revenue
    group by customer_id

),

bands as (

    select * from {{ ref('mart_lifetime_value_bands') }}

),

counted as (

    select
        bands.value_band,
        bands.customers,
        count(revenue.customer_id) as fact_customers

    from bands
    left join revenue
        on
            bands.min_revenue <= revenue.lifetime_revenue
            and (bands.max_revenue is null or bands.max_revenue > revenue.lifetime_revenue)
    group by bands.value_band, bands.customers

)

select value_band, customers, fact_customers from counted
where customers <> fact_customers

union all

select 'all bands', sum(bands.customers), (select count(*) from revenue)
from bands
having sum(bands.customers) <> (select count(*) from revenue)
