with

order_versions as (

    select * from {{ ref('stg_shop__orders') }}

),

ranked as (

    select
        *,
        -- updated_at orders the versions as the shop wrote them; extract_date breaks ties
        -- between re-extracts of the same version.
        row_number() over (
            partition by order_id
            order by updated_at desc, extract_date desc
        ) as recency_rank

    from order_versions

),

latest as (

    select
        order_id,
        customer_id,
        ordered_at,
        order_status,
        payment_method,
        created_at,
        updated_at,
        extract_date

    from ranked
    where recency_rank = 1

)

select * from latest
