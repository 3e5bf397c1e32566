with totals as (
    select
        sum(ht.page_views) as page_views,
        sum(ht.product_views) as product_views,
        sum(ht.add_to_carts) as add_to_carts,
        sum(ht.checkouts) as checkouts,
        sum(ht.purchases) as purchases
    from marts.mart_hourly_traffic as ht
),

by_type as (
    select
        et.event_type,
        et.funnel_step,
        et.events
    from totals as t
    cross join lateral (
        values
        ('page_view', 1, t.page_views),
        ('product_view', 2, t.product_views),
        ('add_to_cart', 3, t.add_to_carts),
        ('checkout', 4, t.checkouts),
        ('purchase', 5, t.purchases)
    ) as et (event_type, funnel_step, events)
)

-- only the event types that occurred, as when counting events by type
select
    bt.event_type,
    bt.events::bigint as events
from by_type as bt
where bt.events > 0
order by bt.funnel_step, bt.event_type
