{#
    SCD Type 2 windows over the customer version log (every extracted version in raw.shop_customers).
    Rebuilt from the whole log on every run, so the lake alone can recreate it (docs/scd2.md).
#}

with

customer_versions as (

    select * from {{ ref('stg_shop__customers') }}

),

sequenced as (

    select
        *,
        row_number() over customer_log as log_position,
        count(*) over (partition by customer_id) as log_length,
        lag(email_hash) over customer_log as previous_email_hash,
        lag(city) over customer_log as previous_city,
        lag(country) over customer_log as previous_country,
        lag(loyalty_segment) over customer_log as previous_loyalty_segment

    from customer_versions
    -- The order in which the shop wrote the versions; extract_date breaks ties between re-extracts.
    window customer_log as (partition by customer_id order by updated_at asc, extract_date asc)

),

-- Only a change of a tracked attribute opens a new version.
version_starts as (

    select
        customer_id,
        email_hash,
        email_masked,
        city,
        country,
        loyalty_segment,
        log_position,
        updated_at

    from sequenced
    where
        log_position = 1
        or (email_hash, city, country, loyalty_segment)
        is distinct from (previous_email_hash, previous_city, previous_country, previous_loyalty_segment)

),

-- Untracked attributes are type 1: every version shows the latest value.
latest_values as (

    select
        customer_id,
        first_name,
        last_name,
        phone_hash,
        phone_masked,
        registered_at

    from sequenced
    where log_position = log_length

),

windows as (

    select
        version_starts.customer_id,
        version_starts.email_hash,
        version_starts.email_masked,
        version_starts.city,
        version_starts.country,
        version_starts.loyalty_segment,
        latest_values.first_name,
        latest_values.last_name,
        latest_values.phone_hash,
        latest_values.phone_masked,
        latest_values.registered_at,
        -- The first version is valid from registration, so orders placed before the first
        -- extract still find the customer's version.
        case
            when version_starts.log_position = 1 then latest_values.registered_at
            else version_starts.updated_at
        end as valid_from,
        row_number() over (
            partition by version_starts.customer_id
            order by version_starts.log_position
        ) as version_number

    from version_starts
    inner join latest_values
        on version_starts.customer_id = latest_values.customer_id

),

final as (

    select
        {{ surrogate_key(['customer_id', utc_text('valid_from')]) }} as customer_key,
        customer_id,
        first_name,
        last_name,
        concat_ws(' ', first_name, last_name) as full_name,
        email_hash,
        email_masked,
        phone_hash,
        phone_masked,
        city,
        country,
        loyalty_segment,
        registered_at,
        valid_from,
        coalesce(
            lead(valid_from) over customer_versions_window,
            {{ open_valid_to() }}
        ) as valid_to,
        lead(valid_from) over customer_versions_window is null as is_current,
        version_number

    from windows
    window customer_versions_window as (partition by customer_id order by version_number)

)

select * from final
