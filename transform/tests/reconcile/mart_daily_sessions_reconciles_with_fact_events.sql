-- Sessions per device and per deepest funnel step, and the events, equal what fact_events gives.
with

sessions as (

    select
        session_id,
        device_type,
        max(funnel_step) as deepest_step,
        count(*) as events

    from {{ ref('fact_events') }}
    group by session_id, device_type

),

from_events as (

    select
        'device ' || device_type as measure,
        count(*) as sessions,
        sum(events) as events

    from sessions
    group by device_type

    union all

    select
        'depth ' || deepest_step as measure,
        count(*) as sessions,
        sum(events) as events

    from sessions
    group by deepest_step

),

from_mart as (

    select
        'device ' || device_type as measure,
        sum(sessions) as sessions,
        sum(events) as events

    from {{ ref('mart_daily_sessions') }}
    group by device_type

    union all

    select
        'depth ' || deepest_step as measure,
        sum(sessions) as sessions,
        sum(events) as events

    from {{ ref('mart_daily_sessions') }}
    group by deepest_step

)

select
    coalesce(from_mart.measure, from_events.measure) as measure,
    from_events.sessions as fact_sessions,
    from_mart.sessions

from from_mart
full outer join from_events
    on from_mart.measure = from_events.measure
where (from_mart.sessions, from_mart.events) is distinct from (from_events.sessions, from_events.events)
