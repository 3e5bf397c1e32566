"""Which days the daily DAGs cover: their start date and the partition date of a run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shopflow.errors import ShopflowError

ONE_DAY = timedelta(days=1)


class ScheduleError(ShopflowError, ValueError):
    """A run's data interval is not one whole UTC day, so it names no single partition."""


def partition_date(interval_start: datetime | None, interval_end: datetime | None) -> date:
    """The partition a daily run covers: its data interval's start, checked to be one whole UTC day."""
    if interval_start is None or interval_end is None:
        raise ScheduleError(
            "this run has no data interval (asset-triggered or triggered without a logical date); "
            "daily ingestion needs one: trigger it with a logical date or use `airflow backfill create`"
        )
    start, end = interval_start.astimezone(UTC), interval_end.astimezone(UTC)
    if end - start != ONE_DAY or (start.hour, start.minute, start.second, start.microsecond) != (0, 0, 0, 0):
        raise ScheduleError(
            f"data interval {start.isoformat()} .. {end.isoformat()} is not one whole UTC day (midnight to "
            "midnight); the DAG's schedule must be daily in UTC"
        )
    return start.date()
