"""Airflow glue shared by the DAG files: schedule, default arguments, assets, the per-entity tasks.

Every task body is a call into `shopflow.orchestration.steps` with the run's partition date, which
comes from the data interval, never from the clock. Only Airflow's SDK and light shopflow modules
are imported here: the dag-processor imports this module on every parse.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import (
    Asset,
    AsyncCallback,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    Param,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowFailException

from shopflow import alerts
from shopflow.config import AirflowSettings
from shopflow.contracts import get_entity
from shopflow.orchestration import schedule, steps
from shopflow.telemetry import disable_usage_telemetry

log = logging.getLogger(__name__)

# Every DAG file imports this module first: the tools its tasks import later (dbt, Great Expectations)
# find their usage telemetry off, whatever the deployment's environment says.
disable_usage_telemetry()

OWNER = "data-platform"
# A fixed date per deployment (SHOPFLOW_START_DATE, default 2026-01-01), never derived from the clock:
# catchup loads every day from it, which incremental shop extracts need (a skipped day is lost).
_start = AirflowSettings.from_env().start_date
START_DATE = pendulum.datetime(_start.year, _start.month, _start.day, tz="UTC")
# Interval semantics on purpose: a run covers [midnight, next midnight) UTC, its logical date is the
# day it loads, and it starts once that day is over. (Airflow 3's default for cron strings is
# CronTriggerTimetable, whose zero-length intervals name no day.)
DAILY = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    # A task that has failed for good (not a retry) posts to SHOPFLOW_ALERT_WEBHOOK_URL.
    "on_failure_callback": alerts.task_failure_callback,
}
# Every DAG's own on_failure_callback: the run failed (or timed out), naming its failed tasks.
DAG_FAILURE_CALLBACK = alerts.dag_failure_callback


def run_deadline(within: timedelta, missed: str) -> DeadlineAlert:
    """A deadline alert: a run not finished `within` its queueing posts `missed` to the alert webhook.

    Measured from when the run was queued, not from its logical date: a catchup or backfill of past
    days would otherwise miss every deadline at once. The triggerer runs the callback (any executor).
    A run that finishes in time clears its deadline; a failed run is reported by DAG_FAILURE_CALLBACK.
    """
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        # In seconds, the form Airflow stored before 3.3 and still decodes: given as a timedelta, 3.3.2
        # stores it as JSON that clearing a task of a run with a pending deadline cannot read (HTTP 500,
        # apache/airflow#70368), so "Clear" and "Clear downstream" would fail in every DAG.
        interval=within.total_seconds(),  # type: ignore[arg-type]
        callback=AsyncCallback(alerts.deadline_missed_callback, kwargs={"missed": missed}),
    )


# The ingestion runs of a day are queued when the day ends (midnight UTC) and their sensors wait for
# the sources: a day not loaded by 06:00 UTC leaves the morning's dashboards a day behind.
INGESTION_DEADLINE = timedelta(hours=6)

# How long the ingestion DAGs wait for a source's day before failing the run.
SENSOR_POKE_SECONDS = 60
SENSOR_TIMEOUT_SECONDS = 12 * 3600

# For the DAGs of mutable sources (the shop database, the catalog API), whose sealed partitions
# a re-run keeps: trigger with {"reextract": true} to read the source again.
REEXTRACT_PARAMS = {
    "reextract": Param(
        False,
        type="boolean",
        description=(
            "Read the source again instead of keeping the day's sealed lake partition. Only for a "
            "source corrected since: a mutable source read after the day has moved on yields a poorer "
            "partition (rows changed later have left the day)."
        ),
    )
}

MARTS_ASSET = Asset(name="warehouse.marts", uri="warehouse://marts/")


def raw_asset(entity_name: str) -> Asset:
    """The warehouse table a load task writes, as an Asset (e.g. warehouse://raw/shop_orders)."""
    table = get_entity(entity_name).table
    return Asset(name=f"warehouse.raw.{table}", uri=f"warehouse://raw/{table}")


def run_partition_date() -> date:
    """The partition date of the running task's DAG run: its data interval's start."""
    context = get_current_context()
    return schedule.partition_date(context["data_interval_start"], context["data_interval_end"])


def _fail_without_retry_on_gate(error: Exception) -> None:
    # A rejected partition stays rejected on retry: fail now, the partition is in quarantine.
    if steps.is_quality_gate_error(error):
        raise AirflowFailException(str(error)) from error


class PipelineStepOperator(PythonOperator):
    """An extract, gate or load task that reports the datasets it read and wrote to OpenLineage.

    Airflow's OpenLineage provider calls `get_openlineage_facets_on_complete` once the task has run
    (on a failure too); `shopflow.lineage` names the datasets from the settings the task ran with.
    An operator class rather than `@task`: the provider looks the method up on the operator, and
    the datasets' names (hosts, bucket) are known on the worker, not where the DAG is parsed.
    """

    def __init__(self, *, entity_name: str, step: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entity_name = entity_name
        self.step = step

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow.providers.openlineage.extractors import OperatorLineage

        from shopflow.config import load_settings
        from shopflow.lineage import step_lineage

        datasets = step_lineage(load_settings(), self.entity_name, self.step)
        return OperatorLineage(inputs=datasets.inputs, outputs=datasets.outputs)


def _extract(entity_name: str) -> dict[str, Any]:
    force = bool(get_current_context()["params"].get("reextract", False))
    return steps.extract(entity_name, run_partition_date(), force=force)


def _gate(entity_name: str) -> str:
    try:
        return steps.gate(entity_name, run_partition_date())
    except Exception as error:
        _fail_without_retry_on_gate(error)
        raise


def _load(entity_name: str, validated_batch_id: str) -> dict[str, Any]:
    summary = steps.load(entity_name, run_partition_date(), validated_batch_id)
    # Consumers of the asset see which partition changed without asking the warehouse.
    get_current_context()["outlet_events"][raw_asset(entity_name)].extra = {
        "dt": summary["dt"],
        "rows": summary["rows"],
        "batch_id": summary["batch_id"],
    }
    return summary


def ingest_entity(entity_name: str) -> tuple[Any, Any, Any]:
    """extract_<entity> >> gate_<entity> >> load_<entity> for one entity; returns the three tasks."""
    short = get_entity(entity_name).name

    def step(name: str, python_callable: Any, op_args: list[Any], **kwargs: Any) -> PipelineStepOperator:
        return PipelineStepOperator(
            task_id=f"{name}_{short}",
            entity_name=entity_name,
            step=name,
            python_callable=python_callable,
            op_args=op_args,
            **kwargs,
        )

    extracted = step("extract", _extract, [entity_name])
    gated = step("gate", _gate, [entity_name])
    extracted >> gated
    # The load takes the batch id the gate validated (its XCom) and refuses a partition changed since.
    loaded = step("load", _load, [entity_name, gated.output], outlets=[raw_asset(entity_name)])
    return extracted, gated, loaded


def poke(check: str, ready: bool, reason: str) -> bool:
    """Log why a sensor waits (or not) and return its verdict."""
    log.info("%s: %s", check, reason)
    return ready


def wait_for_partition(entity_name: str) -> Any:
    """Sensor: another DAG has loaded `entity_name` for this run's date (the gate checks ids against it)."""
    short = get_entity(entity_name).name

    @task.sensor(
        task_id=f"wait_for_{short}",
        poke_interval=SENSOR_POKE_SECONDS,
        timeout=SENSOR_TIMEOUT_SECONDS,
        mode="reschedule",
    )
    def wait() -> bool:
        return poke(f"wait_for_{short}", *steps.check_partition_loaded(entity_name, run_partition_date()))

    return wait()


def wait_for_shop_day() -> Any:
    """Sensor: the shop's day is closed (simulated through it, or past its end for a live shop)."""

    @task.sensor(
        task_id="wait_for_shop_day",
        poke_interval=SENSOR_POKE_SECONDS,
        timeout=SENSOR_TIMEOUT_SECONDS,
        mode="reschedule",
    )
    def wait() -> bool:
        context = get_current_context()
        dt = run_partition_date()
        return poke("wait_for_shop_day", *steps.check_shop_ready(dt, context["data_interval_end"]))

    return wait()


def wait_for_clickstream_day() -> Any:
    """Sensor: all 24 hourly clickstream objects of the day have landed."""

    @task.sensor(
        task_id="wait_for_clickstream_day",
        poke_interval=SENSOR_POKE_SECONDS,
        timeout=SENSOR_TIMEOUT_SECONDS,
        mode="reschedule",
    )
    def wait() -> bool:
        return poke("wait_for_clickstream_day", *steps.check_clickstream_ready(run_partition_date()))

    return wait()


def set_dbt_profile_env(_context: Any, operator: Any) -> None:
    """Cosmos interceptor: give dbt the DBT_PG_* variables of the warehouse, at run time on the worker."""
    operator.env = {**(operator.env or {}), **steps.dbt_profile_env()}
