{#
    Customers with at least one revenue order, by lifetime revenue band (lower bound inclusive,
    upper bound exclusive); all seven bands are always present. Customers who never ordered are in
    mart_order_frequency's '0 orders' bucket instead.
#}

with

bands as (

    select *
    from (
        values
        ('under $100', 1, 0, 100),
        ('$100-249', 2, 100, 250),
        ('$250-499', 3, 250, 500),
        ('$500-999', 4, 500, 1000),
        ('$1,000-2,499', 5, 1000, 2500),
        ('$2,500-4,999', 6, 2500, 5000),
        ('$5,000+', 7, 5000, null)
    ) as band_bounds (value_band, band_sort, min_revenue, max_revenue)

),

buyers as (

    select * from {{ ref('mart_customer_lifetime_value') }}
    where order_count > 0

),

counted as (

    select
        bands.value_band,
        bands.band_sort,
        bands.min_revenue,
        bands.max_revenue,
        count(buyers.customer_id) as customer_count,
        coalesce(sum(buyers.lifetime_revenue), 0) as lifetime_revenue

    from bands
    left join buyers
        on
            bands.min_revenue <= buyers.lifetime_revenue
            and (bands.max_revenue is null or bands.max_revenue > buyers.lifetime_revenue)
    group by bands.value_band, bands.band_sort, bands.min_revenue, bands.max_revenue

),

final as (

    select
        cast(value_band as text) as value_band,
        cast(band_sort as integer) as band_sort,
        cast(min_revenue as numeric(12, 2)) as min_revenue,
        cast(max_revenue as numeric(12, 2)) as max_revenue,
        cast(customer_count as integer) as customers,
        cast(lifetime_revenue as numeric(14, 2)) as lifetime_revenue

    from counted

)

select * from final
