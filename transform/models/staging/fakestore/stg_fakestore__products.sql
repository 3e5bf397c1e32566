with

source as (

    select * from {{ source('fakestore', 'fakestore_products') }}

),

renamed as (

    select
        product_id,
        trim(title) as title,
        price,
        description,
        category,
        image as image_url,
        rating_rate,
        rating_count,
        dt as extract_date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
