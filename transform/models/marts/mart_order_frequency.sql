with

buckets as (

    select *
    from (
        values
        ('0 orders', 1, 0, 0),
        ('1 order', 2, 1, 1),
        ('2-3 orders', 3, 2, 3),
        ('4-5 orders', 4, 4, 5),
        ('6-10 orders', 5, 6, 10),
        ('11+ orders', 6, 11, null)
    ) as bucket_bounds (frequency_bucket, bucket_sort, min_orders, max_orders)

),

customers as (

    select order_count from {{ ref('mart_customer_lifetime_value') }}

),

-- Left join from the bucket list: every bucket has a row, empty ones with 0 customers.
counted as (

    select
        buckets.frequency_bucket,
        buckets.bucket_sort,
        count(customers.order_count) as customer_count

    from buckets
    left join customers
        on
            buckets.min_orders <= customers.order_count
            and (buckets.max_orders is null or buckets.max_orders >= customers.order_count)
    group by buckets.frequency_bucket, buckets.bucket_sort

),

final as (

    select
        cast(frequency_bucket as text) as frequency_bucket,
        cast(bucket_sort as integer) as bucket_sort,
        cast(customer_count as integer) as customer_count,
        cast(
            coalesce(round(cast(customer_count as numeric) / nullif(sum(customer_count) over (), 0), 4), 0)
            as numeric(5, 4)
        ) as share_of_customers

    from counted

)

select * from final
