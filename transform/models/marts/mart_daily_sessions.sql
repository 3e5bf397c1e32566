{#
    Clickstream sessions per UTC day, device and funnel depth (grain: one row per session start
    date, device_type and deepest funnel step reached). A session is one browser on one device (the
    singular test fact_events_one_device_per_session holds fact_events to it), so adding sessions up
    by device or by depth counts every session once. Rebuilt with fact_events on every run.
#}
{{
    config(
        indexes=[
            {'columns': ['device_type']},
        ]
    )
}}

with

events as (

    select * from {{ ref('fact_events') }}

),

sessions as (

    select
        session_id,
        device_type,
        min(event_at) as started_at,
        max(funnel_step) as deepest_step,
        count(*) as events

    from events
    group by session_id, device_type

),

daily as (

    select
        {{ utc_date('started_at') }} as date_day,
        device_type,
        deepest_step,
        count(*) as sessions,
        sum(events) as events

    from sessions
    group by {{ utc_date('started_at') }}, device_type, deepest_step

),

final as (

    select
        cast(date_day as date) as date_day,
        cast({{ date_key('date_day') }} as integer) as date_key,
        cast(device_type as text) as device_type,
        cast(deepest_step as integer) as deepest_step,
        cast(sessions as integer) as sessions,
        cast(events as integer) as events

    from daily

)

select * from final
