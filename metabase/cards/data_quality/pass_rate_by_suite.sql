-- one column per raw suite: the share of that day's validations of the suite that passed
select
    vr.dt as day,
    avg(case when vr.success then 1.0 else 0.0 end) filter (where vr.suite = 'raw.fakestore.products')
        ::numeric(5, 4) as products,
    avg(case when vr.success then 1.0 else 0.0 end) filter (where vr.suite = 'raw.shop.customers')
        ::numeric(5, 4) as customers,
    avg(case when vr.success then 1.0 else 0.0 end) filter (where vr.suite = 'raw.shop.orders')
        ::numeric(5, 4) as orders,
    avg(case when vr.success then 1.0 else 0.0 end) filter (where vr.suite = 'raw.shop.order_items')
        ::numeric(5, 4) as order_items,
    avg(case when vr.success then 1.0 else 0.0 end) filter (where vr.suite = 'raw.clickstream.events')
        ::numeric(5, 4) as events
from ops.validation_results as vr
where vr.suite like 'raw.%'
group by vr.dt
order by vr.dt
