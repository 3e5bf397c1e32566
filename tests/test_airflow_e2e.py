"""The DAGs end to end under Airflow: simulate, ingest, transform two days; re-run a day; reject a partition.

Airflow reads its configuration once per process, so every `dag.test()` runs in a subprocess (this
file run as a script) with a private AIRFLOW_HOME, a SQLite metadata database and the data settings
of an isolated shop/warehouse/bucket on the session's test stack. The assertions read the warehouse
and the lake directly. Every Python process of those runs (the dbt CLI the transform DAG starts included)
records the outside hosts it tries to reach (tests/outbound_guard); none may, whatever the environment
asks of the tools' usage telemetry.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shopflow.contracts import ENTITIES
from shopflow.telemetry import USAGE_TELEMETRY_OFF

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
OUTBOUND_GUARD = Path(__file__).parent / "outbound_guard"
# What a run's logs show when a tool tried to send usage telemetry (endpoints, Cosmos' warning).
TELEMETRY_IN_LOGS = re.compile(
    r"scarf\.sh|sinter-collect|posthog|segment\.io|Unable to emit usage metrics|usage metrics to", re.IGNORECASE
)
DAGS_DIR = ROOT / "dags"
DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)
SCALE, SEED = 0.2, 11
INGESTION = ("ingest_fakestore", "ingest_shop", "ingest_clickstream")
# This file also runs as a script (the dag.test driver), where the tests package is not importable.
RAW_TABLES = {name: f"raw.{entity.table}" for name, entity in ENTITIES.items()}


# --- the driver: runs inside the subprocess ----------------------------------------------------------
def _asset_event_counts() -> dict[str, int]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.uri, func.count(AssetEvent.id))
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .group_by(AssetModel.uri)
        ).all()
    return {uri: count for uri, count in rows}


def drive(plan: list[dict]) -> list[dict]:
    """Run `dag.test` for each {dag_id, day, keep_retries} of the plan; report run and task states."""
    from airflow.dag_processing.dagbag import BundleDagBag

    bag = BundleDagBag(dag_folder=DAGS_DIR, bundle_path=DAGS_DIR, bundle_name="dags-folder")
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    results = []
    for step in plan:
        dag = bag.get_dag(step["dag_id"])
        # dag.test() in Airflow 3.3.2 runs an in-memory copy of the DAG whose deadline alerts are not the
        # database rows a finishing run looks up (AttributeError: 'dict' object has no attribute 'hex'):
        # the deadlines are checked in tests/test_dags.py and tests/test_alerts.py instead.
        dag.deadline = None
        if not step.get("keep_retries"):
            # An unexpected failure should end the test now, not after minutes of retry backoff.
            for task in dag.tasks:
                task.retries = 0
        day = date.fromisoformat(step["day"])
        # A manual run's data interval is the last whole day before its logical date.
        logical = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        started = time.monotonic()
        run = dag.test(logical_date=logical)
        results.append(
            {
                "dag_id": step["dag_id"],
                "day": step["day"],
                "state": str(run.state),
                "data_interval_start": run.data_interval_start.isoformat() if run.data_interval_start else None,
                "tasks": {ti.task_id: [str(ti.state), ti.try_number] for ti in run.get_task_instances()},
                "seconds": round(time.monotonic() - started, 1),
                "asset_events": _asset_event_counts(),
            }
        )
    return results


# --- the test side -----------------------------------------------------------------------------------
class Airflow:
    """Runs plans of DAG runs in subprocesses with one private Airflow home and the isolated data settings."""

    def __init__(self, env: dict[str, str], workdir: Path):
        self.env = env
        self.workdir = workdir
        self.timings: list[tuple[str, str, float]] = []
        # Asset events per URI in the metadata DB after the latest run.
        self.asset_events: dict[str, int] = {}

    def run(self, *steps: tuple[str, date], keep_retries: bool = False) -> list[dict]:
        plan = [{"dag_id": d, "day": day.isoformat(), "keep_retries": keep_retries} for d, day in steps]
        out = self.workdir / f"result-{time.monotonic_ns()}.json"
        log = self.workdir / "driver.log"
        with open(log, "ab") as handle:
            proc = subprocess.run(
                [sys.executable, __file__, json.dumps(plan), str(out)],
                env=self.env,
                cwd=ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=1800,
            )
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise AssertionError(f"the dag.test driver failed (exit {proc.returncode}); last lines of {log}:\n{tail}")
        results = json.loads(out.read_text())
        self.asset_events = results[-1]["asset_events"]
        self.timings.extend((r["dag_id"], r["day"], r["seconds"]) for r in results)
        return results

    def outbound_attempts(self) -> list[str]:
        """Hosts outside this machine that a process of the runs tried to resolve or connect to."""
        log = self.workdir / "outbound.log"
        return log.read_text().splitlines() if log.exists() else []

    def telemetry_log_lines(self) -> list[str]:
        """Lines of the runs' logs (the driver's output and every task log) that mention usage telemetry."""
        logs = [self.workdir / "driver.log", *Path(self.env["AIRFLOW_HOME"], "logs").rglob("*.log")]
        return [
            f"{path.name}: {line.strip()[:300]}"
            for path in logs
            if path.is_file()
            for line in path.read_text(errors="replace").splitlines()
            if TELEMETRY_IN_LOGS.search(line)
        ]

    def failed_tasks_report(self, results: list[dict]) -> str:
        return json.dumps([{r["dag_id"]: {t: s for t, s in r["tasks"].items() if s[0] != "success"}} for r in results])


def _assert_all_succeeded(airflow: Airflow, results: list[dict]) -> None:
    bad = [r for r in results if r["state"] != "success"]
    assert not bad, f"runs did not succeed: {airflow.failed_tasks_report(bad)} (see {airflow.workdir / 'driver.log'})"


def _day_plan(day: date) -> list[tuple[str, date]]:
    return [("simulate_shop", day), *((d, day) for d in INGESTION), ("transform", day)]


@pytest.fixture(scope="module")
def pipeline(isolated_settings, tmp_path_factory):
    """Two consecutive days simulated, ingested and transformed by the DAGs; yields (settings, airflow, results)."""
    from shopflow import lineage
    from shopflow.orchestration.dbt_manifest import build_manifest

    settings = isolated_settings("airflow_e2e")
    workdir = tmp_path_factory.mktemp("airflow-e2e")
    home = workdir / "airflow-home"
    home.mkdir()
    build_manifest(settings)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "METABASE_")) and k not in USAGE_TELEMETRY_OFF
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__COSMOS__CACHE_DIR": str(workdir / "cosmos-cache"),
            "SHOP_DSN": settings.shop_dsn,
            "WAREHOUSE_DSN": settings.warehouse_dsn,
            "S3_ENDPOINT_URL": settings.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": settings.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key,
            "LAKE_BUCKET": settings.lake_bucket,
            "FAKESTORE_API_URL": settings.fakestore_api_url,
            "SHOPFLOW_STATE_DIR": str(workdir / "state"),
            "SHOPFLOW_SIMULATE_SOURCES": "true",
            "SHOPFLOW_SIMULATION_SCALE": str(SCALE),
            "SHOPFLOW_SIMULATION_SEED": str(SEED),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            # The environment asks for usage telemetry: the platform's own code paths must keep it off.
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "True",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "true",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(OUTBOUND_GUARD), os.environ.get("PYTHONPATH")])),
            "SHOPFLOW_OUTBOUND_LOG": str(workdir / "outbound.log"),
        }
    )
    # OpenLineage events into the runs' state dir, configured as `shopflow airflow up` configures them.
    run_settings = settings.replace(state_dir=workdir / "state")
    env.update(lineage.airflow_environment(run_settings))
    lineage.prepare_lineage_file(run_settings)
    started = time.monotonic()
    migrate = subprocess.run(
        ["airflow", "db", "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    airflow = Airflow(env, workdir)
    airflow.timings.append(("airflow db migrate", "", round(time.monotonic() - started, 1)))
    results = airflow.run(*_day_plan(DAY1), *_day_plan(DAY2))
    _assert_all_succeeded(airflow, results)
    yield settings, airflow, results
    report = ", ".join(f"{d} {day} {s:.0f}s" for d, day, s in airflow.timings)
    print(f"\nairflow e2e timings: {report}")


def _query(dsn: str, statement: str, params: tuple = ()) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall()
    conn.close()
    return rows


def _marts(dsn: str) -> list[str]:
    rows = _query(dsn, "select table_name from information_schema.tables where table_schema = 'marts'")
    return sorted(name for (name,) in rows)


def _checksums(dsn: str) -> dict[str, tuple]:
    """(rows, md5) of every raw table and mart, without load timestamps."""
    from tests.pipeline_helpers import table_checksum

    tables = [*RAW_TABLES.values(), *(f"marts.{t}" for t in _marts(dsn))]
    return {table: tuple(table_checksum(dsn, table)) for table in tables}


def test_each_run_loads_its_own_day_and_row_counts_match_the_lake_manifests(pipeline):
    from shopflow.contracts import get_entity
    from shopflow.pipeline import open_lake

    settings, _airflow, results = pipeline
    by_run = {(r["dag_id"], r["day"]): r for r in results}
    for day in (DAY1, DAY2):
        for dag_id in ("simulate_shop", *INGESTION):
            run = by_run[(dag_id, day.isoformat())]
            assert run["data_interval_start"].startswith(day.isoformat()), run
            assert all(state == "success" for state, _tries in run["tasks"].values()), run["tasks"]
    lake = open_lake(settings)
    for entity_name, table in RAW_TABLES.items():
        for day in (DAY1, DAY2):
            manifest = lake.read_partition(get_entity(entity_name), day).manifest
            [(rows,)] = _query(settings.warehouse_dsn, f"select count(*) from {table} where dt = %s", (day,))
            assert rows == manifest.row_count, f"{table} {day}: {rows} rows loaded, manifest says {manifest.row_count}"
    # The first shop extract took the history, the second only the day's changes; both are non-empty.
    orders = dict(_query(settings.warehouse_dsn, "select dt, count(*) from raw.shop_orders group by dt"))
    assert orders[DAY1] > 0 and orders[DAY2] > 0
    ledger = _query(settings.warehouse_dsn, "select count(*) from ops.load_ledger where status = 'loaded'")
    assert ledger == [(2 * len(RAW_TABLES),)]


def test_transform_builds_the_marts_and_publishes_them(pipeline):
    settings, _airflow, results = pipeline
    transforms = [r for r in results if r["dag_id"] == "transform"]
    assert len(transforms) == 2
    dbt_tasks = {t: s for t, s in transforms[-1]["tasks"].items() if t.startswith("dbt.")}
    assert len(dbt_tasks) > 10, dbt_tasks
    # One dbt build (the watcher producer); every model's task read its outcome at its first try,
    # without falling back to a dbt run of its own (Cosmos' EmptyOperator gate may show try 0).
    assert all(state == "success" and tries <= 1 for state, tries in dbt_tasks.values()), dbt_tasks
    assert transforms[-1]["tasks"]["publish_marts"][0] == "success"
    # Every load emitted its raw asset and every transform the marts asset.
    events = transforms[-1]["asset_events"]
    for table in RAW_TABLES.values():
        assert events[f"warehouse://raw/{table.split('.', 1)[1]}"] == 2, events
    assert events["warehouse://marts/"] == 2, events
    wh = settings.warehouse_dsn
    marts = _marts(wh)
    assert len(marts) > 10, marts
    for mart in marts:
        [(rows,)] = _query(wh, f"select count(*) from marts.{mart}")
        assert rows > 0, f"marts.{mart} is empty"
    [(fact_orders, raw_orders)] = _query(
        wh,
        "select (select count(distinct order_id) from marts.fact_orders), "
        "(select count(distinct order_id) from raw.shop_order_items)",
    )
    assert fact_orders == raw_orders
    [(fact_events, raw_events)] = _query(
        wh,
        "select (select count(*) from marts.fact_events), (select count(distinct event_id) from raw.clickstream_events)",
    )
    assert fact_events == raw_events


def test_rerunning_a_day_leaves_the_warehouse_identical(pipeline):
    settings, airflow, _results = pipeline
    before = _checksums(settings.warehouse_dsn)
    rerun = airflow.run(*_day_plan(DAY2))
    _assert_all_succeeded(airflow, rerun)
    assert rerun[0]["tasks"]["simulate_day"][0] == "success"
    after = _checksums(settings.warehouse_dsn)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert not changed, f"re-running {DAY2} changed: {changed}"


def test_corrupted_partition_fails_the_gate_and_nothing_downstream_runs(pipeline):
    from shopflow.contracts import EVENTS
    from shopflow.extract.clickstream import extract_clickstream
    from shopflow.lake import landing_key, partition_prefix
    from shopflow.pipeline import open_lake
    from tests.pipeline_helpers import table_checksum

    settings, airflow, _results = pipeline
    lake = open_lake(settings)
    key = landing_key(DAY2, 5)
    original = lake.get(key)
    events = gzip.decompress(original).decode().splitlines()
    bad = json.loads(events[0])
    bad.update(event_id="e2e-bad-event", event_type="teleport")
    before = table_checksum(settings.warehouse_dsn, "raw.clickstream_events")
    events_before = dict(airflow.asset_events)
    lake.put(key, gzip.compress(("\n".join([*events, json.dumps(bad)]) + "\n").encode()), "application/gzip")
    try:
        [run] = airflow.run(("ingest_clickstream", DAY2), keep_retries=True)
    finally:
        # Put the day back as it was (landing object and raw partition) for the other tests.
        lake.put(key, original, "application/gzip")
        extract_clickstream(lake, DAY2)
    tasks = run["tasks"]
    assert run["state"] == "failed", run
    assert tasks["extract_events"][0] == "success"
    # Failed at the first try although the task has retries: a rejected partition is not retried.
    assert tasks["gate_events"] == ["failed", 1], tasks
    assert tasks["load_events"][0] == "upstream_failed", tasks
    # No asset event for the events table, so `transform` is not triggered by this run.
    uri = "warehouse://raw/clickstream_events"
    assert run["asset_events"][uri] == events_before[uri], (events_before, run["asset_events"])
    assert table_checksum(settings.warehouse_dsn, "raw.clickstream_events") == before
    ledger = _query(
        settings.warehouse_dsn,
        "select status, message from ops.load_ledger where entity = 'clickstream.events' and dt = %s "
        "and status = 'rejected'",
        (DAY2,),
    )
    assert ledger and "event_type" in ledger[0][1], ledger
    assert lake.list_keys(partition_prefix(EVENTS, DAY2, zone="quarantine")), (
        "the rejected partition was not quarantined"
    )


def _lineage_events(airflow: Airflow) -> list[dict]:
    path = Path(airflow.env["SHOPFLOW_STATE_DIR"]) / "lineage" / "openlineage.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _reaches(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_task_and_dbt_model_left_openlineage_events_forming_the_source_to_mart_graph(pipeline):
    from shopflow.contracts import get_entity
    from shopflow.orchestration.dbt_manifest import MANIFEST_PATH

    _settings, airflow, results = pipeline
    events = _lineage_events(airflow)
    jobs = {(e["job"]["name"], e["eventType"]) for e in events}
    # Airflow's provider: a START and a COMPLETE for every task run and every DAG run.
    for run in results:
        for task_id in run["tasks"]:
            for kind in ("START", "COMPLETE"):
                assert (f"{run['dag_id']}.{task_id}", kind) in jobs, (run["dag_id"], task_id, kind)
        assert (run["dag_id"], "COMPLETE") in jobs, run["dag_id"]
    # dbt's integration: a COMPLETE per model of the project, under the task that ran the build.
    manifest = json.loads(MANIFEST_PATH.read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    # Named <database>.<schema>.<package>.<model>.build.run (the database is the isolated warehouse's).
    database = urlsplit(airflow.env["WAREHOUSE_DSN"]).path.lstrip("/")
    model_events = {e["job"]["name"]: e for e in events if e["job"]["name"].endswith(".build.run")}
    build_runs = {e["run"]["runId"] for e in events if e["job"]["name"] == "transform.dbt.dbt_producer_watcher"}
    for model in models:
        name = f"{database}.{model['schema']}.{model['unique_id'].removeprefix('model.')}.build.run"
        assert name in model_events, (name, sorted(model_events))
        parent = model_events[name]["run"]["facets"]["parent"]
        assert parent["job"]["name"] == "transform.dbt.dbt_producer_watcher", parent
        assert parent["run"]["runId"] in build_runs and parent["root"]["job"]["name"] == "transform", parent
    # The dataset graph of the per-step and per-model events (not the build task's, which lists every
    # model's inputs and outputs at once and would connect anything to anything).
    edges: dict[str, set[str]] = {}
    for event in events:
        if event["eventType"] != "COMPLETE" or event["job"]["name"] == "transform.dbt.dbt_producer_watcher":
            continue
        for source in event.get("inputs") or []:
            for target in event.get("outputs") or []:
                edges.setdefault(f"{source['namespace']}/{source['name']}", set()).add(
                    f"{target['namespace']}/{target['name']}"
                )
    warehouse = urlsplit(airflow.env["WAREHOUSE_DSN"])
    pg = f"postgres://{warehouse.hostname}:{warehouse.port}/{warehouse.path.lstrip('/')}"
    lake = f"s3://{airflow.env['LAKE_BUCKET']}"
    expected_mart = {
        "fakestore.products": "dim_products",
        "shop.customers": "dim_customers",
        "shop.orders": "fact_orders",
        "shop.order_items": "fact_orders",
        "clickstream.events": "fact_events",
    }
    for entity_name, mart in expected_mart.items():
        entity = get_entity(entity_name)
        lake_prefix = f"{lake}/raw/{entity.source}/{entity.name}"
        raw_table = f"{pg}.raw.{entity.table}"
        sources = [s for s, targets in edges.items() if lake_prefix in targets]
        assert sources, f"no event wrote {lake_prefix}"
        for source in sources:
            downstream = _reaches(edges, source)
            assert raw_table in _reaches(edges, lake_prefix), (entity_name, sorted(edges.get(lake_prefix, ())))
            assert f"{pg}.marts.{mart}" in downstream, (entity_name, source, sorted(downstream))


def test_no_run_reached_outside_or_logged_usage_telemetry(pipeline):
    # Last in this module: it covers every run above (two days, the re-run, the rejected partition).
    _settings, airflow, _results = pipeline
    assert airflow.outbound_attempts() == []
    assert airflow.telemetry_log_lines() == []


if __name__ == "__main__":
    # Subprocess entry point: python tests/test_airflow_e2e.py '<plan json>' <result file>
    sys.path.insert(0, str(DAGS_DIR))
    Path(sys.argv[2]).write_text(json.dumps(drive(json.loads(sys.argv[1]))))
