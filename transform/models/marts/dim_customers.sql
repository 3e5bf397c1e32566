{{
    config(
        indexes=[
            {'columns': ['customer_id', 'valid_from'], 'unique': true},
            {'columns': ['version_number', 'customer_id']},
        ]
    )
}}

with

customer_versions as (

    select * from {{ ref('int_customers_versioned') }}

),

final as (

    select
        cast(customer_key as text) as customer_key,
        cast(customer_id as bigint) as customer_id,
        cast(first_name as text) as first_name,
        cast(last_name as text) as last_name,
        cast(full_name as text) as full_name,
        cast(email_hash as text) as email_hash,
        cast(email_masked as text) as email_masked,
        cast(phone_hash as text) as phone_hash,
        cast(phone_masked as text) as phone_masked,
        cast(city as text) as city,
        cast(country as text) as country,
        cast(loyalty_segment as text) as loyalty_segment,
        cast(registered_at as timestamptz) as registered_at,
        cast(valid_from as timestamptz) as valid_from,
        cast(valid_to as timestamptz) as valid_to,
        cast(is_current as boolean) as is_current,
        cast(version_number as integer) as version_number,
        cast({{ country_region('country') }} as text) as region

    from customer_versions

)

select * from final
