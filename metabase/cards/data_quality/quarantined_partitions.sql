with latest as (
    select distinct on (ll.entity, ll.dt)
        ll.entity,
        ll.dt,
        ll.status,
        ll.expectations_failed,
        ll.message,
        ll.finished_at
    from ops.load_ledger as ll
    order by ll.entity asc, ll.dt asc, ll.finished_at desc
)

select
    l.entity,
    l.dt as partition_date,
    l.expectations_failed,
    to_char(l.finished_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as rejected_at,
    split_part(l.message, E'\n', 2) as first_failure
from latest as l
where l.status = 'rejected'
order by l.finished_at desc
