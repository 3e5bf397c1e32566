"""OpenLineage: where the events go, and which datasets the pipeline's own steps read and write.

Airflow's OpenLineage provider emits a START and a COMPLETE (or FAIL) event for every task run and
every DAG run; Cosmos adds the datasets of dbt's models (docs/governance.md, "Lineage"). This module
gives the provider its transport, from the settings, and names the datasets of the extract, gate and
load steps, so that the graph runs source -> lake prefix -> `raw` table -> dbt's models -> marts.

Dataset names follow OpenLineage's naming conventions, so they meet the names dbt's integration gives
the same tables: PostgreSQL `postgres://host:port` + `database.schema.table`, S3 `s3://bucket` + the
key prefix. The warehouse's host and port are read from WAREHOUSE_DSN, exactly as dbt's profile gets
them (`shopflow.transform.runner.dbt_env`). Airflow is never imported here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from openlineage.client.event_v2 import Dataset

from shopflow.config import Settings
from shopflow.contracts import Entity, get_entity
from shopflow.lake import LANDING_EVENTS_PREFIX, entity_prefix
from shopflow.warehouse.ops import VALIDATION_RESULTS
from shopflow.warehouse.raw_schema import RAW_SCHEMA

# Marquez's (and the OpenLineage spec's) collection endpoint, relative to SHOPFLOW_LINEAGE_URL.
HTTP_ENDPOINT = "api/v1/lineage"
HTTP_TIMEOUT_SECONDS = 5.0
STEPS = ("extract", "gate", "load")
# The shop's tables live in PostgreSQL's default schema.
SHOP_SCHEMA = "public"


def transport(settings: Settings) -> dict[str, Any]:
    """The OpenLineage client's transport: HTTP to SHOPFLOW_LINEAGE_URL if set, else the state dir's file.

    The file takes one event a line, appended by every task process of the machine (each event is
    one write to a file opened for appending, so concurrent tasks do not interleave lines).
    """
    if settings.lineage.url:
        return {
            "type": "http",
            "url": settings.lineage.url,
            "endpoint": HTTP_ENDPOINT,
            "timeout": HTTP_TIMEOUT_SECONDS,
        }
    return {"type": "file", "log_file_path": str(settings.lineage_file), "append": True}


def airflow_environment(settings: Settings) -> dict[str, str]:
    """The `[openlineage]` settings of Airflow's provider (and Cosmos), as AIRFLOW__OPENLINEAGE__* variables."""
    if not settings.lineage.enabled:
        return {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}
    return {
        "AIRFLOW__OPENLINEAGE__DISABLED": "False",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport(settings)),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": settings.lineage.namespace,
        # A task's events are emitted from a thread of the task process, not from a fork of it (the
        # provider's default): no copy of a process holding Airflow, Cosmos and dbt per event, and no
        # inherited connection to the task's supervisor. The task waits at most 10 s for an event.
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }


def prepare_lineage_file(settings: Settings) -> None:
    """Create the events file's folder: the file transport appends to the file but creates no folder."""
    if settings.lineage.enabled and not settings.lineage.url:
        settings.lineage_file.parent.mkdir(parents=True, exist_ok=True)


# --- datasets ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepLineage:
    """What one step reads and writes; `inputs`/`outputs` are what the provider's OperatorLineage takes."""

    inputs: list[Dataset]
    outputs: list[Dataset]


def postgres_dataset(dsn: str, schema: str, table: str) -> Dataset:
    """A PostgreSQL table as OpenLineage (and dbt's integration) names it."""
    parts = urlsplit(dsn)
    database = unquote(parts.path.lstrip("/"))
    return Dataset(namespace=f"postgres://{parts.hostname}:{parts.port or 5432}", name=f"{database}.{schema}.{table}")


def lake_dataset(settings: Settings, prefix: str) -> Dataset:
    """A prefix of the lake bucket (every day's partition of an entity is one dataset)."""
    return Dataset(namespace=f"s3://{settings.lake_bucket}", name=prefix.strip("/"))


def source_dataset(settings: Settings, entity: Entity) -> Dataset:
    """Where an entity's extract reads: a shop table, the catalog API, or the clickstream landing zone."""
    if entity.source == "shop":
        return postgres_dataset(settings.shop_dsn, SHOP_SCHEMA, entity.name)
    if entity.source == "fakestore":
        api = urlsplit(settings.fakestore_api_url)
        return Dataset(
            namespace=f"{api.scheme}://{api.netloc}", name=f"{api.path.rstrip('/')}/{entity.name}".lstrip("/")
        )
    return lake_dataset(settings, LANDING_EVENTS_PREFIX)


def raw_table_dataset(settings: Settings, entity: Entity) -> Dataset:
    """The warehouse table a load writes, `<warehouse db>.raw.<source>_<entity>`: dbt's name for the source."""
    return postgres_dataset(settings.warehouse_dsn, RAW_SCHEMA, entity.table)


def step_lineage(settings: Settings, entity_name: str, step: str) -> StepLineage:
    """The datasets of one entity's extract, gate or load task.

    extract: source -> lake prefix; gate: lake prefix -> the gate's verdicts (`ops.validation_results`);
    load: lake prefix -> `raw` table.
    """
    entity = get_entity(entity_name)
    lake = lake_dataset(settings, entity_prefix(entity))
    if step == "extract":
        return StepLineage([source_dataset(settings, entity)], [lake])
    if step == "gate":
        schema, table = VALIDATION_RESULTS.split(".", 1)
        return StepLineage([lake], [postgres_dataset(settings.warehouse_dsn, schema, table)])
    if step == "load":
        return StepLineage([lake], [raw_table_dataset(settings, entity)])
    raise ValueError(f"unknown pipeline step {step!r} for {entity_name}; expected one of {', '.join(STEPS)}")


# --- dbt's models -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParentRun:
    """The run a dbt model's events belong to: the Airflow task that ran `dbt build`, and its DAG run."""

    namespace: str
    job_name: str
    run_id: str
    root_namespace: str
    root_job_name: str
    root_run_id: str


def with_parent(events: list[Any], parent: ParentRun) -> list[Any]:
    """Copies of dbt-integration RunEvents with a `parent` run facet naming `parent` (replacing any).

    Without it a model's run would stand alone in a lineage UI; with it Marquez shows it under the
    Airflow task and DAG run that built it. Copies: Cosmos folds the same events into the build
    task's own event, whose parent is the DAG run.
    """
    import attr
    from openlineage.client.generated import parent_run

    facet = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=parent.run_id),
        job=parent_run.Job(namespace=parent.namespace, name=parent.job_name),
        root=parent_run.Root(
            run=parent_run.RootRun(runId=parent.root_run_id),
            job=parent_run.RootJob(namespace=parent.root_namespace, name=parent.root_job_name),
        ),
    )
    return [
        attr.evolve(event, run=attr.evolve(event.run, facets={**(event.run.facets or {}), "parent": facet}))
        for event in events
    ]
