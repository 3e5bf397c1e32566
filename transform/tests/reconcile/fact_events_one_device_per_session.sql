-- A session is one browser on one device: mart_daily_sessions and the traffic cards add sessions
-- up by device and by funnel depth, which counts a session twice if it had two devices.
select
    session_id,
    count(distinct device_type) as devices

from {{ ref('fact_events') }}
group by session_id
having count(distinct device_type) > 1
