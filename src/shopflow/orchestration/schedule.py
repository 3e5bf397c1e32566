"""Which days the daily DAGs cover: their start date and the partition date of a run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from shopflow.config import ConfigError

START_DATE_ENV = "SHOPFLOW_START_DATE"
# The first day the platform loads when nothing else is configured.
DEFAULT_START_DATE = date(2026, 1, 1)
ONE_DAY = timedelta(days=1)


class ScheduleError(ValueError):
    """A run's data interval is not one whole UTC day, so it names no single partition."""


def start_date(env: Mapping[str, str] | None = None) -> date:
    """The daily DAGs' start date: SHOPFLOW_START_DATE (YYYY-MM-DD), default 2026-01-01.

    Catchup loads every day from it, so it is a deployment's first day of data; it must not change
    once runs exist (set it before the first start, like any DAG start_date).
    """
    env = os.environ if env is None else env
    raw = env.get(START_DATE_ENV)
    if not raw:
        return DEFAULT_START_DATE
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{START_DATE_ENV}={raw!r} is not a date (YYYY-MM-DD)") from None


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
