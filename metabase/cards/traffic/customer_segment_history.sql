with most_versions as (
    -- versions are numbered 1, 2, ... per customer, so the highest number is the most versions
    select max(dc.version_number) as version_number
    from marts.dim_customers as dc
),

chosen_customer as (
    -- the customer with the most versions, and the lowest id wins a tie so the card is stable
    select min(dc.customer_id) as customer_id
    from marts.dim_customers as dc
    inner join most_versions as mv on dc.version_number = mv.version_number
)

select
    dc.customer_id,
    dc.full_name,
    dc.version_number,
    dc.loyalty_segment,
    dc.city,
    dc.country,
    dc.valid_from,
    nullif(dc.valid_to, '9999-12-31 00:00:00+00'::timestamptz) as valid_to,
    dc.is_current
from marts.dim_customers as dc
inner join chosen_customer as cc on dc.customer_id = cc.customer_id
order by dc.version_number
