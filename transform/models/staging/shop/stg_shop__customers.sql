with

source as (

    select * from {{ source('shop', 'shop_customers') }}

),

renamed as (

    select
        customer_id,
        trim(first_name) as first_name,
        trim(last_name) as last_name,
        -- Case-only edits of an address are not a change of email for SCD2 tracking.
        lower(trim(email)) as email,
        nullif(trim(phone), '') as phone,
        trim(city) as city,
        trim(country) as country,
        loyalty_segment,
        registered_at,
        created_at,
        updated_at,
        dt as extract_date,
        _loaded_at as loaded_at

    from source

)

select * from renamed
