with

product_snapshots as (

    select * from {{ ref('stg_fakestore__products') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by product_id
            order by extract_date desc
        ) as recency_rank

    from product_snapshots

),

-- A product that left the catalog keeps its last known row: old order lines still reference it.
latest as (

    select
        product_id,
        title,
        price,
        description,
        category,
        image_url,
        rating_rate,
        rating_count,
        extract_date as snapshot_date

    from ranked
    where recency_rank = 1

)

select * from latest
