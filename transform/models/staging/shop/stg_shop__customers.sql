with

source as (

    select * from {{ source('shop', 'shop_customers') }}

),

renamed as (

    select
        customer_id,
        trim(first_name) as first_name,
        trim(last_name) as last_name,
        -- Contact data leaves raw hashed (joins, SCD2 tracking) and masked (display) only. The hash
        -- is of the lower-cased address, so a case-only edit is not a change of email; phones are
        -- hashed as their digits (and a leading +), so formatting edits are not changes either.
        {{ pii_hash('lower(trim(email))') }} as email_hash,
        {{ mask_email('lower(trim(email))') }} as email_masked,
        {{ pii_hash("nullif(regexp_replace(phone, '[^0-9+]', '', 'g'), '')") }} as phone_hash,
        {{ mask_phone("nullif(regexp_replace(phone, '[^0-9+]', '', 'g'), '')") }} as phone_masked,
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
