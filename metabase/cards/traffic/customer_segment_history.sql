with chosen_customer as (
    -- the customer with the most versions (numbered 1, 2, ... per customer), the lowest id on a
    -- tie so the card is stable; the scalar subquery runs first and is compared like a constant,
    -- so the (version_number, customer_id) index yields that customer as its first entry
    select dc.customer_id
    from marts.dim_customers as dc
    where dc.version_number = (select max(dcv.version_number) from marts.dim_customers as dcv)
    order by dc.customer_id
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
