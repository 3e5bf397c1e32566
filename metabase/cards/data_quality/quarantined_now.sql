with latest as (
    -- the latest ledger row of each partition (entity, day)
    select distinct on (ll.entity, ll.dt)
        ll.entity,
        ll.dt,
        ll.status
    from ops.load_ledger as ll
    order by ll.entity asc, ll.dt asc, ll.finished_at desc
)

select count(*) as quarantined
from latest as l
where l.status = 'rejected'
