"""Is a source's day ready to extract? The checks behind the ingestion DAGs' sensors.

Each check answers for one partition date and says why in one sentence, which the sensor logs on
every poke, so a waiting run explains itself in the Airflow UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from shopflow.db import connect
from shopflow.lake import Lake, landing_key, landing_prefix

HOURS = range(24)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str


def simulated_through(shop_dsn: str) -> date | None:
    """The last day the shop simulator has written, or None when it never ran on this database."""
    with connect(shop_dsn) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('simulation_state') is not null")
        if not cur.fetchone()[0]:
            return None
        cur.execute("select last_day from simulation_state")
        row = cur.fetchone()
        return row[0] if row else None


def shop_day_ready(shop_dsn: str, dt: date, interval_end: datetime, *, simulated: bool, now: datetime) -> Readiness:
    """The shop's day `dt` is closed: simulated through `dt`, or (live shop) the wall clock is past its end.

    `now` only decides whether to wait, never what is extracted: the extract selects by the interval.
    """
    if simulated:
        through = simulated_through(shop_dsn)
        if through is not None and through >= dt:
            return Readiness(True, f"the shop simulator has written {dt} (simulated through {through})")
        state = "has not run yet" if through is None else f"is at {through}"
        return Readiness(False, f"waiting for the shop simulator (simulate_shop) to write {dt}: it {state}")
    if interval_end.tzinfo is None:
        raise ValueError(f"interval_end {interval_end} has no time zone; pass an aware datetime")
    if now >= interval_end:
        return Readiness(True, f"the shop's day {dt} closed at {interval_end.astimezone(UTC).isoformat()}")
    return Readiness(False, f"the shop's day {dt} is still open until {interval_end.astimezone(UTC).isoformat()}")


def clickstream_day_ready(lake: Lake, dt: date) -> Readiness:
    """All 24 hourly landing objects of `dt` have been delivered."""
    present = set(lake.list_keys(landing_prefix(dt)))
    missing = [hour for hour in HOURS if landing_key(dt, hour) not in present]
    if not missing:
        return Readiness(True, f"all 24 hourly clickstream objects of {dt} have landed")
    shown = ", ".join(f"{h:02d}" for h in missing[:6]) + (", ..." if len(missing) > 6 else "")
    return Readiness(
        False,
        f"{len(missing)} of 24 clickstream hours of {dt} have not landed under "
        f"s3://{lake.bucket}/{landing_prefix(dt)} (hours {shown})",
    )


def partition_loaded(warehouse_dsn: str, entity_name: str, dt: date) -> Readiness:
    """The load ledger records a loaded partition of `entity_name` for `dt`."""
    from shopflow.warehouse.ops import partition_is_loaded

    with connect(warehouse_dsn) as conn:
        found = partition_is_loaded(conn, entity_name, dt)
    if found:
        return Readiness(True, f"{entity_name} for {dt} is loaded in the warehouse")
    return Readiness(False, f"waiting for {entity_name} of {dt} to be loaded (its ingestion DAG loads it)")


def utc_now() -> datetime:
    """The wall clock, for sensors deciding whether to keep waiting (never for selecting data)."""
    return datetime.now(UTC)
