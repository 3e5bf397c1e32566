with version_counts as (
    select
        dc.customer_id,
        count(dc.customer_key) as versions
    from marts.dim_customers as dc
    group by dc.customer_id
),

chosen_customer as (
    -- the customer with the most versions, and the lowest id wins a tie so the card is stable
    select vc.customer_id
    from version_counts as vc
    order by vc.versions desc, vc.customer_id
    limit 1
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
