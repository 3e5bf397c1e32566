with failures as (
    select
        vr.validated_at,
        vr.suite,
        vr.dt,
        f.value as failure
    from ops.validation_results as vr
    cross join lateral jsonb_array_elements(vr.failures) as f (value)
    where not vr.success
),

described as (
    select
        fl.validated_at,
        fl.suite,
        fl.dt,
        fl.failure ->> 'expectation' as expectation,
        fl.failure ->> 'column' as column_name,
        fl.failure ->> 'observed' as observed,
        -- the first offending row, as "column=value" pairs
        (
            select string_agg(e.key || '=' || coalesce(e.value #>> '{}', 'null'), ', ')
            from jsonb_each(fl.failure -> 'examples' -> 0) as e (key, value)
        ) as example
    from failures as fl
)

select
    to_char(d.validated_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI') as validated_at,
    d.suite,
    d.dt as partition_date,
    d.expectation,
    d.column_name,
    d.observed,
    d.example
from described as d
order by d.validated_at desc, d.suite asc, d.expectation asc
limit 50
