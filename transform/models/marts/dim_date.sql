{{
    config(
        indexes=[
            {'columns': ['date_day'], 'unique': true},
            {'columns': ['month_start']},
        ]
    )
}}

with

order_dates as (

    select {{ utc_date('ordered_at') }} as date_day
    from {{ ref('int_orders_latest') }}

),

event_dates as (

    select {{ utc_date('event_at') }} as date_day
    from {{ ref('stg_clickstream__events') }}

),

fact_dates as (

    select date_day from order_dates
    union all
    select date_day from event_dates

),

bounds as (

    select
        min(date_day) as first_day,
        max(date_day) as last_day

    from fact_dates

),

-- Every day between the first and the last fact date, so daily charts have no holes. Integer
-- offsets keep the series in dates (a timestamptz series would follow the session time zone).
days as (

    select bounds.first_day + day_offset.n as date_day
    from bounds
    cross join lateral generate_series(0, bounds.last_day - bounds.first_day) as day_offset (n)

),

final as (

    select
        cast({{ date_key('date_day') }} as integer) as date_key,
        date_day,
        cast(extract(year from date_day) as integer) as year,
        cast(extract(quarter from date_day) as integer) as quarter,
        cast(extract(month from date_day) as integer) as month,
        cast(trim(to_char(date_day, 'Month')) as text) as month_name,
        cast(date_trunc('month', date_day) as date) as month_start,
        cast(extract(week from date_day) as integer) as week_of_year,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast(extract(isodow from date_day) as integer) as day_of_week,
        cast(trim(to_char(date_day, 'Day')) as text) as day_name,
        extract(isodow from date_day) in (6, 7) as is_weekend

    from days

)

select * from final
