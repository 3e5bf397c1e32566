"""The bodies of the DAGs' tasks: a thin adapter from Airflow's calls to `shopflow.pipeline.Pipeline`.

Each step reads the settings from the environment, runs one pipeline step for one partition date and
returns a small JSON-serialisable summary (it becomes the task's XCom); each is safe to re-run. The
pipeline and the heavy libraries (pandas, Great Expectations, dbt, boto3) are imported inside the
functions, so importing this module stays cheap for DAG parsing.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopflow.config import load_settings

if TYPE_CHECKING:
    from shopflow.pipeline import Pipeline


def _pipeline() -> Pipeline:
    # Imported here: the pipeline pulls in pandas and the loader, and the DAG files import this module.
    from shopflow.pipeline import Pipeline

    return Pipeline.from_settings(load_settings())


# --- sources ----------------------------------------------------------------------------------------
def simulate_day(dt: date) -> dict[str, Any]:
    """Simulate the shop's day `dt` (nothing if it is simulated already; a gap is refused by the simulator)."""
    pipeline = _pipeline()
    [summary] = pipeline.simulate(dt)
    return {
        "day": dt.isoformat(),
        "written": not summary.skipped,
        "new_customers": summary.new_customers,
        "orders": summary.orders,
        "order_items": summary.order_items,
        "events": summary.events,
        "scale": pipeline.settings.simulation.scale,
        "seed": pipeline.settings.simulation.seed,
    }


def check_shop_ready(dt: date, interval_end: datetime) -> tuple[bool, str]:
    """Sensor body: (ready, why) for the shop's day `dt`."""
    from shopflow.orchestration.readiness import shop_day_ready, utc_now

    settings = load_settings()
    simulated = settings.simulation.enabled
    result = shop_day_ready(settings.shop_dsn, dt, interval_end, simulated=simulated, now=utc_now())
    return result.ready, result.reason


def check_clickstream_ready(dt: date) -> tuple[bool, str]:
    """Sensor body: (ready, why) for the clickstream landing of `dt`."""
    from shopflow.orchestration.readiness import clickstream_day_ready

    result = clickstream_day_ready(_pipeline().lake, dt)
    return result.ready, result.reason


def check_partition_loaded(entity_name: str, dt: date) -> tuple[bool, str]:
    """Sensor body: (ready, why) for another DAG's partition of `dt` being loaded."""
    from shopflow.orchestration.readiness import partition_loaded

    result = partition_loaded(load_settings().warehouse_dsn, entity_name, dt)
    return result.ready, result.reason


# --- extract, gate, load ----------------------------------------------------------------------------
def extract(entity_name: str, dt: date, *, force: bool = False) -> dict[str, Any]:
    """Extract one entity's partition of `dt` into the lake's raw zone.

    A sealed partition of a mutable source (shop tables, the catalog API) is kept unless `force`:
    re-reading a past day from them would give a poorer partition (docs/pipeline.md).
    """
    result = _pipeline().extract(entity_name, dt, force=force)
    return {
        "entity": result.entity,
        "dt": result.dt.isoformat(),
        "rows": result.row_count,
        "key": result.key,
        "full_history": result.full_history,
        "reused_sealed_partition": result.reused,
    }


def gate(entity_name: str, dt: date) -> str:
    """Validate the lake partition; on failure it is quarantined and QualityGateError raised. Returns its batch_id."""
    return _pipeline().gate(entity_name, dt).batch_id


def load(entity_name: str, dt: date, validated_batch_id: str) -> dict[str, Any]:
    """Gate again and load the partition the gate task validated; refuses if it changed since (another batch_id)."""
    result = _pipeline().load(entity_name, dt, expected_batch_id=validated_batch_id)
    return {
        "entity": result.entity,
        "dt": result.dt.isoformat(),
        "batch_id": result.batch_id,
        "rows": result.row_count,
        "gate_seconds": round(result.gate_seconds, 3),
        "load_seconds": round(result.load_seconds, 3),
    }


def is_quality_gate_error(error: BaseException) -> bool:
    """True for a failed quality gate: retrying cannot help until the data is fixed."""
    # outcome.py holds the class without pulling in Great Expectations (gate.py does).
    from shopflow.quality.outcome import QualityGateError

    return isinstance(error, QualityGateError)


# --- transform and dashboards -----------------------------------------------------------------------
def data_through(warehouse_dsn: str) -> date | None:
    """The last date every entity has loaded (min over entities of their latest loaded partition)."""
    from shopflow.contracts import LOAD_ORDER
    from shopflow.db import connect
    from shopflow.warehouse.ops import latest_loaded_dates

    with connect(warehouse_dsn) as conn:
        latest = latest_loaded_dates(conn, list(LOAD_ORDER))
    if any(name not in latest for name in LOAD_ORDER):
        return None
    return min(latest.values())


def dbt_profile_env() -> dict[str, str]:
    """The DBT_PG_* variables transform/profiles.yml reads, for the warehouse in the settings."""
    from shopflow.transform.runner import dbt_env

    return dbt_env(load_settings())


def published_marts() -> dict[str, Any]:
    """What a finished dbt build publishes to the dashboards: the date the warehouse is complete
    through and the row count of every mart (the marts asset event's extra)."""
    from shopflow.db import table_row_counts

    settings = load_settings()
    through = data_through(settings.warehouse_dsn)
    counts = table_row_counts(settings.warehouse_dsn, "marts")
    return {"data_through": through.isoformat() if through else None, "mart_rows": counts}


def dashboards_dir() -> Path:
    """Where the HTML dashboards are written: <state dir>/output/dashboards."""
    return load_settings().output_dir / "dashboards"


def render_html_dashboards() -> dict[str, Any]:
    """Render the self-contained HTML dashboards from the marts."""
    from shopflow.dashboards import render_dashboards

    index = render_dashboards(load_settings().warehouse_dsn, dashboards_dir())
    return {"index": str(index)}


def metabase_configured() -> bool:
    """Metabase is provisioned only where METABASE_URL is set."""
    return load_settings().metabase.configured


def provision_metabase() -> dict[str, Any]:
    """Create or update the Metabase database, collection, cards and dashboards (idempotent)."""
    from shopflow.dashboards.metabase import provision_from_settings

    settings = load_settings()
    report = provision_from_settings(settings.metabase, settings.warehouse_dsn)
    return {
        "metabase": report.metabase_url,
        "summary": report.summary(),
        "dashboards": [d.url for d in report.dashboards],
    }


def source_freshness(dt: date, dag_id: str, task_id: str) -> str:
    """`dbt source freshness`; post an alert for stale sources, raise StaleSourcesError past error_after."""
    from shopflow.transform.freshness import alert_on_stale_sources

    return alert_on_stale_sources(load_settings(), dt, dag_id, task_id)


def is_stale_sources_error(error: BaseException) -> bool:
    """True for the freshness check's own failure (already alerted; a retry cannot fix it)."""
    from shopflow.alerts import AlertedError

    return isinstance(error, AlertedError)
