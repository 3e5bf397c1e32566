"""The DAG files and the orchestration package they call.

DagBag checks (import errors, owners, tags, retries, cycles, schedules, wiring), parse cost measured
in fresh processes, and the Airflow-free helpers: partition dates, readiness checks on the test
stack, the local Airflow's environment and the `shopflow airflow` commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from shopflow.config import ConfigError
from shopflow.contracts import LOAD_ORDER, get_entity
from shopflow.orchestration import schedule
from shopflow.orchestration.readiness import (
    clickstream_day_ready,
    partition_loaded,
    shop_day_ready,
    simulated_through,
)

ROOT = Path(__file__).resolve().parents[1]
DAGS_DIR = ROOT / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
DAILY_DAGS = ("simulate_shop", "ingest_fakestore", "ingest_shop", "ingest_clickstream")
ALL_DAGS = {*DAILY_DAGS, "transform", "dashboards", "source_freshness"}
HEAVY_MODULES = ("great_expectations", "dbt", "pandas")
# A guard against a DAG file doing real work at parse time, not a speed target: a tenth of Airflow's
# dagbag_import_timeout (30 s), which leaves room for a loaded CI machine (a parse takes about 1 s idle).
PARSE_BUDGET_SECONDS = 10.0


@pytest.fixture(scope="module")
def manifest():
    """transform/target/manifest.json, built when missing (the transform DAG is rendered from it)."""
    from shopflow.config import load_settings
    from shopflow.orchestration.dbt_manifest import MANIFEST_PATH, build_manifest

    if not MANIFEST_PATH.exists():
        build_manifest(load_settings())
    return MANIFEST_PATH


@pytest.fixture(scope="module")
def dagbag(manifest, tmp_path_factory):
    """The DAG folder parsed the way the dag-processor parses it, with the simulated sources enabled."""
    if "airflow" not in sys.modules:
        # Airflow reads AIRFLOW_HOME once, at import: keep its generated config out of ~/airflow.
        os.environ.setdefault("AIRFLOW_HOME", str(tmp_path_factory.mktemp("airflow-home")))
    saved = {name: os.environ.pop(name, None) for name in ("SHOPFLOW_SIMULATE_SOURCES", "SHOPFLOW_START_DATE")}
    os.environ["SHOPFLOW_SIMULATE_SOURCES"] = "true"
    try:
        from airflow.dag_processing.dagbag import BundleDagBag

        bag = BundleDagBag(dag_folder=DAGS_DIR, bundle_path=DAGS_DIR, bundle_name="dags-folder")
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
    return bag


# --- DagBag ------------------------------------------------------------------------------------------
def test_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == ALL_DAGS


def test_every_dag_has_owner_tags_docs_and_retries_with_backoff(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags, f"{dag.dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag.dag_id} has no documentation"
        assert dag.max_active_runs == 1, dag.dag_id
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.owner == "data-platform", where
            assert 2 <= task.retries <= 4, f"{where} retries={task.retries}"
            assert task.retry_exponential_backoff, where


def test_every_dag_and_task_alerts_on_failure(dagbag):
    from shopflow.alerts import dag_failure_callback, task_failure_callback

    for dag in dagbag.dags.values():
        assert dag.on_failure_callback in (dag_failure_callback, [dag_failure_callback]), dag.dag_id
        for task in dag.tasks:
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert task_failure_callback in callbacks, f"{dag.dag_id}.{task.task_id}"


def test_every_dag_alerts_on_a_missed_deadline(dagbag):
    """Each DAG run has a deadline from its queueing; the triggerer awaits shopflow's callback when it passes."""
    from airflow._shared.module_loading import accepts_context, import_string
    from airflow.sdk import AsyncCallback, DeadlineReference
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.serialized_objects import DagSerialization

    from shopflow.alerts import deadline_missed_callback

    for dag in dagbag.dags.values():
        [deadline] = dag.deadline
        assert deadline.reference == DeadlineReference.DAGRUN_QUEUED_AT, dag.dag_id
        assert timedelta(minutes=30) <= timedelta(seconds=deadline.interval) <= timedelta(hours=12), dag.dag_id
        assert isinstance(deadline.callback, AsyncCallback), dag.dag_id
        # The path the triggerer imports, and the call it makes (the callback's kwargs plus `context`).
        assert import_string(deadline.callback.path) is deadline_missed_callback
        assert accepts_context(deadline_missed_callback)
        assert "queued" in deadline.callback.kwargs["missed"], dag.dag_id
        # The dag-processor stores the deadline with the serialized DAG: it must serialize, its interval a
        # number of seconds, which clearing a task reads as such (a JSON interval fails there in Airflow
        # 3.3.2), and which becomes the same timedelta when a run's deadline is computed.
        [stored] = DagSerialization.to_dict(dag)["dag"]["deadline"]
        interval = stored["__data__"]["interval"] if "__data__" in stored else stored["interval"]
        assert isinstance(interval, float), (dag.dag_id, stored)
        assert decode_deadline_alert(stored).interval == timedelta(seconds=deadline.interval), dag.dag_id


def test_extract_gate_and_load_report_their_datasets_to_openlineage(dagbag):
    """The provider's extractor for our step tasks returns source -> lake prefix -> raw table."""
    from airflow.providers.openlineage.extractors.base import DefaultExtractor
    from airflow.providers.openlineage.extractors.manager import ExtractorManager

    from shopflow.config import load_settings
    from shopflow.lineage import step_lineage

    manager = ExtractorManager()
    dag = dagbag.dags["ingest_shop"]
    reported = {}
    for step in ("extract", "gate", "load"):
        task = dag.get_task(f"{step}_orders")
        assert manager.get_extractor_class(task) is DefaultExtractor, step
        lineage = manager._get_extractor(task).extract_on_complete(None)
        reported[step] = ([d.name for d in lineage.inputs], [d.name for d in lineage.outputs])
        expected = step_lineage(load_settings(), "shop.orders", step)
        assert lineage.inputs == expected.inputs and lineage.outputs == expected.outputs, step
    assert reported == {
        "extract": (["shop.public.orders"], ["raw/shop/orders"]),
        "gate": (["raw/shop/orders"], ["warehouse.ops.validation_results"]),
        "load": (["raw/shop/orders"], ["warehouse.raw.shop_orders"]),
    }
    # dbt's models: the build's task emits one event per model, whatever the build's outcome.
    from _dbt_watcher import emit_model_lineage

    producer = dagbag.dags["transform"].get_task("dbt.dbt_producer_watcher")
    assert emit_model_lineage in producer.on_success_callback
    assert emit_model_lineage in producer.on_failure_callback


def test_no_dag_has_a_cycle(dagbag):
    for dag in dagbag.dags.values():
        upstream = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
        done: set[str] = set()
        while len(done) < len(upstream):
            ready = {t for t, ups in upstream.items() if t not in done and ups <= done}
            assert ready, f"{dag.dag_id}: cycle among {sorted(set(upstream) - done)}"
            done |= ready


def test_daily_dags_cover_one_utc_day_per_run_in_date_order(dagbag):
    from airflow.serialization.encoders import coerce_to_core_timetable

    for dag_id in DAILY_DAGS:
        dag = dagbag.dags[dag_id]
        assert type(dag.timetable).__name__ == "CronDataIntervalTimetable", f"{dag_id}: {dag.timetable!r}"
        assert dag.catchup is True and dag.start_date == datetime(2026, 1, 1, tzinfo=UTC), dag_id  # the default
        timetable = coerce_to_core_timetable(dag.timetable)
        # Backfills and scheduled runs: logical date = interval start = the day loaded, midnight UTC.
        first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=_restriction(dag))
        assert first.logical_date == datetime(2026, 1, 1, tzinfo=UTC), (dag_id, first)
        assert first.data_interval.end - first.data_interval.start == timedelta(days=1), (dag_id, first)


def _restriction(dag):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=dag.start_date, latest=None, catchup=True)


def test_each_entity_is_extracted_then_gated_then_loaded_into_its_asset(dagbag):
    dags = {"fakestore": "ingest_fakestore", "shop": "ingest_shop", "clickstream": "ingest_clickstream"}
    for entity_name in LOAD_ORDER:
        entity = get_entity(entity_name)
        dag = dagbag.dags[dags[entity.source]]
        extract, gate, load = (dag.get_task(f"{step}_{entity.name}") for step in ("extract", "gate", "load"))
        assert extract.task_id in gate.upstream_task_ids
        assert gate.task_id in load.upstream_task_ids
        assert [a.uri for a in load.outlets] == [f"warehouse://raw/{entity.table}"]
        assert not extract.outlets and not gate.outlets


def test_mutable_sources_keep_sealed_partitions_unless_asked_to_reextract(dagbag):
    for dag_id in ("ingest_shop", "ingest_fakestore"):
        params = dagbag.dags[dag_id].params
        assert params["reextract"] is False, dag_id
        assert "sealed" in params.get_param("reextract").description
    # Landing objects do not change: the clickstream is promoted again on every run.
    assert "reextract" not in dagbag.dags["ingest_clickstream"].params


def test_sources_are_waited_for_by_reschedule_sensors(dagbag):
    shop = dagbag.dags["ingest_shop"]
    clicks = dagbag.dags["ingest_clickstream"]
    for dag, sensor_id, extracts in (
        (shop, "wait_for_shop_day", ("extract_customers", "extract_orders", "extract_order_items")),
        (clicks, "wait_for_clickstream_day", ("extract_events",)),
    ):
        sensor = dag.get_task(sensor_id)
        assert sensor.mode == "reschedule" and sensor.poke_interval >= 60 and sensor.timeout >= 3600
        for task_id in extracts:
            assert sensor_id in dag.get_task(task_id).upstream_task_ids
    # The simulated shop runs ahead of the extracts when it can, as a live shop does while Airflow is down.
    assert set(dagbag.dags["simulate_shop"].task_ids) == {"simulate_day"}
    # Order lines are checked against orders and products: their gate runs after both are loaded.
    assert {"load_orders", "wait_for_products"} <= shop.get_task("gate_order_items").upstream_task_ids
    assert "wait_for_products" in clicks.get_task("gate_events").upstream_task_ids
    # A day's partitions are self-contained (lines travel with their order): days need no date order,
    # so a backfill may run several at once and needs no particular --reprocess-behavior.
    for table in ("customers", "orders", "order_items"):
        gate = shop.get_task(f"gate_{table}")
        assert not gate.depends_on_past and not gate.wait_for_downstream, gate.task_id
        assert f"load_{table}" in gate.downstream_task_ids


def test_transform_waits_for_every_raw_table_and_runs_one_task_per_model(dagbag, manifest):
    transform = dagbag.dags["transform"]
    condition = transform.timetable.asset_condition
    # All of them (AssetAll), not any one: a run sees every source of the same days.
    assert type(condition).__name__ == "AssetAll"
    scheduled_on = {a.uri for a in condition.objects}
    assert scheduled_on == {f"warehouse://raw/{get_entity(n).table}" for n in LOAD_ORDER}
    nodes = json.loads(manifest.read_text())["nodes"]
    models = {uid: n for uid, n in nodes.items() if n["resource_type"] == "model"}
    tests = {uid for uid, n in nodes.items() if n["resource_type"] == "test"}
    # One dbt build for the whole project (the watcher producer), one task per model following it.
    producer = transform.get_task("dbt.dbt_producer_watcher")
    assert producer.base_cmd == ["build"] and not producer.select and producer.upstream_task_ids == set()
    assert producer.invocation_mode.value == "subprocess"  # its JSON log is read as dbt writes it
    dbt_tasks = {t.task_id for t in transform.tasks if t.task_id.startswith("dbt.")}
    model_tasks = {f"dbt.{n['name']}_model_build" for n in models.values()}
    assert dbt_tasks == model_tasks | {"dbt.dbt_producer_watcher", "dbt.dbt_producer_watcher_done"}
    for uid, node in models.items():
        task = transform.get_task(f"dbt.{node['name']}_model_build")
        parents = {f"dbt.{nodes[p]['name']}_model_build" for p in node["depends_on"]["nodes"] if p in models}
        assert task.upstream_task_ids == parents, uid  # the dbt lineage, for the graph and "clear downstream"
        # Every model's task follows the build from the run's start (dbt orders the models), each try
        # starting in the triggerer, a retry waiting for its parents' tasks (tests/test_dbt_watcher.py).
        assert task.trigger_rule == "always" and task.start_from_trigger, uid
        start = task.start_trigger_args
        assert (start.trigger_cls, start.next_method) == ("_dbt_watcher.ModelReportTrigger", "resume"), uid
        kwargs = start.trigger_kwargs
        assert (kwargs["model_unique_id"], kwargs["producer_task_id"]) == (uid, producer.task_id), uid
        assert set(kwargs["upstream_task_ids"]) == parents, uid
        assert task.model_unique_id == uid and task.producer_task_id == producer.task_id
        assert task.base_cmd == ["build"], uid  # a retried or cleared model runs `dbt build --select` it
    # Every data test counts for a model: a generic test for the one it is attached to only (not every
    # model it reads), a singular test (no attached model, e.g. a reconciliation) for each model it reads.
    counted: dict[str, set[str]] = {}
    for model, ids in producer.tests_per_model.items():
        for test in ids:
            counted.setdefault(test, set()).add(model)
    assert set(counted) == tests
    for test, counted_for in counted.items():
        attached = nodes[test].get("attached_node")
        read = {p for p in nodes[test]["depends_on"]["nodes"] if p in models}
        assert counted_for == ({attached} if attached in read else read), test
    publish = transform.get_task("publish_marts")
    assert [a.uri for a in publish.outlets] == ["warehouse://marts/"]
    leaves = {t for t in model_tasks if not transform.get_task(t).downstream_task_ids - {"publish_marts"}}
    assert publish.upstream_task_ids == leaves | {"dbt.dbt_producer_watcher_done"}
    dashboards = dagbag.dags["dashboards"]
    assert {a.uri for a in dashboards.timetable.asset_condition.objects} == {"warehouse://marts/"}


def test_parsing_the_dags_turns_usage_telemetry_off(dagbag):
    from cosmos import settings as cosmos_settings
    from cosmos.telemetry import should_emit

    from shopflow.telemetry import USAGE_TELEMETRY_OFF

    assert cosmos_settings.enable_telemetry is False and should_emit() is False
    assert {name: os.environ.get(name) for name in USAGE_TELEMETRY_OFF} == USAGE_TELEMETRY_OFF
    producer = dagbag.dags["transform"].get_task("dbt.dbt_producer_watcher")
    assert "--no-send-anonymous-usage-stats" in producer.dbt_cmd_global_flags


def test_simulate_shop_exists_only_where_sources_are_simulated(manifest, dagbag, monkeypatch):
    from airflow.dag_processing.dagbag import BundleDagBag

    monkeypatch.delenv("SHOPFLOW_SIMULATE_SOURCES", raising=False)
    bag = BundleDagBag(dag_folder=DAGS_DIR / "simulate_shop.py", bundle_path=DAGS_DIR, bundle_name="dags-folder")
    assert bag.import_errors == {} and bag.dag_ids == []
    monkeypatch.setenv("SHOPFLOW_SIMULATE_SOURCES", "maybe")
    bag = BundleDagBag(dag_folder=DAGS_DIR / "simulate_shop.py", bundle_path=DAGS_DIR, bundle_name="dags-folder")
    [error] = bag.import_errors.values()
    assert "SHOPFLOW_SIMULATE_SOURCES='maybe': Input should be a valid boolean" in error


# Airflow's DAG-bag module is loaded by the dag-processor before any DAG file: not their cost. Each file
# is then parsed in a child forked from that state, so modules another DAG file imported cannot hide
# this one's cost, and Airflow is imported once instead of once per file.
_PARSE_PROBE = """
import json, os, sys, time
import airflow.dag_processing.dagbag
sys.path.insert(0, sys.argv[1])
for dag_file in sys.argv[2:]:
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        before = set(sys.modules)
        started = time.perf_counter()
        import runpy
        runpy.run_path(dag_file, run_name="dag_file")
        seconds = time.perf_counter() - started
        report = {"file": dag_file, "seconds": seconds, "modules": sorted(set(sys.modules) - before)}
        os.write(write, json.dumps(report).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as child:
        output = child.read()
    _, status = os.wait()
    if status != 0 or not output:
        sys.exit(f"parsing {dag_file} failed (wait status {status})")
    print(output)
"""


@pytest.fixture(scope="module")
def parse_probes(manifest, tmp_path_factory):
    """{DAG file name: {seconds, modules}} for every DAG file, each parsed in a fresh fork."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path_factory.mktemp("probe-airflow-home")),
        "SHOPFLOW_SIMULATE_SOURCES": "true",
    }
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, str(DAGS_DIR), *map(str, DAG_FILES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    probes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"file"')]
    return {Path(probe["file"]).name: probe for probe in probes}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_fast_without_heavy_imports(dag_file, parse_probes):
    probe = parse_probes[dag_file.name]
    heavy = sorted({m.split(".")[0] for m in probe["modules"] if m.split(".")[0] in HEAVY_MODULES})
    assert heavy == [], f"{dag_file.name} imports {heavy} at parse time"
    assert probe["seconds"] < PARSE_BUDGET_SECONDS, f"{dag_file.name} took {probe['seconds']:.2f} s to parse"
    print(f"{dag_file.name}: parsed in {probe['seconds']:.2f} s")


_PRELOAD_PROBE = """
import sys
from _dag_processor import PRELOADED_MODULES, preload
preload()
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

def discover_again(self):
    raise AssertionError("a parse discovered the providers' asset URI handlers again")

ProvidersManagerTaskRuntime._discover_asset_uri_resources = discover_again
from airflow.sdk import Asset
Asset("warehouse://raw/orders")  # what every DAG file's import of _common does first
assert set(PRELOADED_MODULES) <= set(sys.modules), set(PRELOADED_MODULES) - set(sys.modules)
print("preloaded")
"""


def test_the_dag_processor_loads_what_its_forked_parses_share():
    from shopflow.orchestration import local_airflow as la

    # The launcher, compose and the ECS task definition start the DAG processor through the same module.
    command = la.COMPONENT_COMMANDS["dag-processor"]
    assert command[1:] == ["-m", "_dag_processor"]
    compose = (ROOT / "docker-compose.yml").read_text()
    assert '["python", "-m", "_dag_processor"]' in compose
    terraform = (ROOT / "terraform" / "modules" / "airflow" / "main.tf").read_text()
    assert '["python", "-m", "_dag_processor"]' in terraform
    # dags/ is on PYTHONPATH wherever the DAG processor runs (the launcher, the image).
    env = {**os.environ, "PYTHONPATH": str(DAGS_DIR)}
    probe = subprocess.run([sys.executable, "-c", _PRELOAD_PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0 and "preloaded" in probe.stdout, probe.stderr[-2000:]
    # It hands its arguments to Airflow's own `dag-processor` command.
    usage = subprocess.run([*command, "--help"], env=env, capture_output=True, text=True, timeout=120)
    assert usage.returncode == 0 and "airflow dag-processor" in usage.stdout, usage.stderr[-2000:]


# --- partition dates and settings ----------------------------------------------------------------------
def test_partition_date_is_the_data_interval_start():
    start = datetime(2026, 3, 2, tzinfo=UTC)
    assert schedule.partition_date(start, start + timedelta(days=1)) == date(2026, 3, 2)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2026, 3, 2, 6, tzinfo=UTC), datetime(2026, 3, 3, 6, tzinfo=UTC), "not one whole UTC day"),
        (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC), "not one whole UTC day"),
        (None, None, "has no data interval"),
    ],
)
def test_partition_date_refuses_intervals_that_are_not_one_day(start, end, message):
    with pytest.raises(schedule.ScheduleError, match=message):
        schedule.partition_date(start, end)


# --- readiness on the test stack ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def source(isolated_settings):
    return isolated_settings("readiness")


def test_shop_readiness_follows_the_simulator_or_the_clock(source):
    from tests.pipeline_helpers import simulate

    day = date(2026, 2, 10)
    end = datetime(2026, 2, 11, tzinfo=UTC)
    assert simulated_through(source.shop_dsn) is None
    waiting = shop_day_ready(source.shop_dsn, day, end, simulated=True, now=end + timedelta(days=30))
    assert not waiting.ready and "has not run yet" in waiting.reason
    simulate(source, day, day, scale=0.1)
    assert simulated_through(source.shop_dsn) == day
    assert shop_day_ready(source.shop_dsn, day, end, simulated=True, now=end - timedelta(hours=1)).ready
    later = shop_day_ready(source.shop_dsn, day + timedelta(days=1), end + timedelta(days=1), simulated=True, now=end)
    assert not later.ready and f"is at {day}" in later.reason
    # A live shop's day is closed once the wall clock passes the interval's end.
    assert not shop_day_ready(source.shop_dsn, day, end, simulated=False, now=end - timedelta(seconds=1)).ready
    assert shop_day_ready(source.shop_dsn, day, end, simulated=False, now=end).ready


def test_clickstream_readiness_needs_all_24_hours(source):
    from shopflow.lake import landing_key
    from shopflow.pipeline import open_lake

    lake = open_lake(source)
    day = date(2026, 1, 20)
    for hour in range(24):
        if hour != 17:
            lake.put(landing_key(day, hour), b"")
    waiting = clickstream_day_ready(lake, day)
    assert not waiting.ready and "1 of 24" in waiting.reason and "17" in waiting.reason
    lake.put(landing_key(day, 17), b"")
    assert clickstream_day_ready(lake, day).ready


def test_partition_loaded_reads_the_load_ledger(source):
    from shopflow.extract.products import extract_products
    from shopflow.pipeline import Pipeline, open_lake

    day = date(2026, 1, 21)
    assert not partition_loaded(source.warehouse_dsn, "fakestore.products", day).ready
    lake = open_lake(source)
    extract_products(lake, source.fakestore_api_url, day)
    Pipeline(source, lake).load("fakestore.products", day)
    assert partition_loaded(source.warehouse_dsn, "fakestore.products", day).ready
    assert not partition_loaded(source.warehouse_dsn, "fakestore.products", day + timedelta(days=1)).ready


# --- the local Airflow ---------------------------------------------------------------------------------
def test_local_airflow_environment(tmp_path):
    from shopflow.config import Settings
    from shopflow.orchestration import local_airflow as la
    from shopflow.telemetry import USAGE_TELEMETRY_OFF

    settings = Settings.from_env({"SHOPFLOW_AIRFLOW_PORT": "58999"}, state_dir=tmp_path)
    airflow = la.local_airflow(settings, start=date(2026, 11, 22))
    env = airflow.environment
    assert env["SHOPFLOW_START_DATE"] == "2026-11-22"
    assert airflow.url == "http://127.0.0.1:58999" and airflow.home == tmp_path / "airflow"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1" and env["AIRFLOW__API__PORT"] == "58999"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:58999/execution/"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor" and env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(DAGS_DIR)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == settings.airflow_sqlalchemy_conn
    assert env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"].startswith(str(tmp_path / "logs" / "airflow"))
    assert env["SHOPFLOW_SIMULATE_SOURCES"] == "true"
    assert env["AIRFLOW_CONN_SHOPFLOW_WAREHOUSE"] == settings.warehouse_dsn
    # Every component (the scheduler runs Cosmos' DAG-run listener) starts with usage telemetry off.
    assert USAGE_TELEMETRY_OFF.items() <= env.items()
    # OpenLineage events go to a file in the state dir unless SHOPFLOW_LINEAGE_URL says otherwise.
    assert env["AIRFLOW__OPENLINEAGE__DISABLED"] == "False" and env["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "shopflow"
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"]) == {
        "type": "file",
        "log_file_path": str(tmp_path / "lineage" / "openlineage.jsonl"),
        "append": True,
    }
    path_first = la.process_environment(airflow, base={"PATH": "/usr/bin"})["PATH"].split(os.pathsep)[0]
    assert path_first == str(Path(sys.executable).parent)
    # The triggerer imports the model trigger from the DAG folder: it comes first, the caller's path after.
    env = la.process_environment(airflow, base={"PATH": "/usr/bin", "PYTHONPATH": "/elsewhere"})
    assert env["PYTHONPATH"] == f"{DAGS_DIR}{os.pathsep}/elsewhere"
    assert f"export PYTHONPATH={DAGS_DIR}" in "\n".join(la.env_exports(airflow))
    probe = (
        "from airflow.sdk._shared.module_loading import import_string; import_string('_dbt_watcher.ModelReportTrigger')"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], env=env | {"PATH": os.environ["PATH"]}, capture_output=True, text=True
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    live = la.local_airflow(Settings.from_env({"SHOPFLOW_SIMULATE_SOURCES": "false"}, state_dir=tmp_path))
    assert live.environment["SHOPFLOW_SIMULATE_SOURCES"] == "false"


def test_the_image_puts_its_dag_folder_on_pythonpath_for_the_triggerer():
    from tests.compose_rehearsal import dockerfile_runtime_env

    env = dockerfile_runtime_env()
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] in env["PYTHONPATH"].split(os.pathsep)


def test_local_start_date_is_fixed_at_the_first_launch(tmp_path):
    from shopflow.config import Settings
    from shopflow.orchestration import local_airflow as la

    settings = Settings.from_env({}, state_dir=tmp_path)
    pinned = Settings.from_env({"SHOPFLOW_START_DATE": "2025-05-05"}, state_dir=tmp_path)
    assert la.ensure_start_date(pinned, today=date(2026, 11, 25)) == date(2025, 5, 5)
    first = la.ensure_start_date(settings, today=date(2026, 11, 25))
    assert first == date(2026, 11, 22)
    # Later launches keep it: a DAG's start date must not move once it has runs.
    assert la.ensure_start_date(settings, today=date(2026, 12, 31)) == first
    (tmp_path / "airflow" / la.START_DATE_FILE).write_text("soon\n")
    with pytest.raises(ConfigError, match="not a date"):
        la.ensure_start_date(settings)


def test_admin_password_is_generated_once_and_kept_private(tmp_path):
    import stat

    from shopflow.config import Settings
    from shopflow.orchestration import local_airflow as la

    airflow = la.local_airflow(Settings.from_env({}, state_dir=tmp_path))
    first = la.admin_password(airflow)
    assert len(first) >= 16 and la.admin_password(airflow) == first
    assert json.loads(airflow.passwords_file.read_text()) == {"admin": first}
    assert stat.S_IMODE(airflow.passwords_file.stat().st_mode) == 0o600
    airflow.passwords_file.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        la.admin_password(airflow)


def test_airflow_env_command_prints_shell_exports(tmp_path, monkeypatch):
    import shlex

    from typer.testing import CliRunner

    from shopflow.cli_commands.airflow import app

    monkeypatch.setenv("SHOPFLOW_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPFLOW_AIRFLOW_PORT", "58777")
    monkeypatch.delenv("SHOPFLOW_START_DATE", raising=False)
    result = CliRunner().invoke(app, ["env"])
    assert result.exit_code == 0, result.output
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1)
        for line in result.output.splitlines()
        if not line.startswith("export PATH=")
    )
    assert exports["AIRFLOW_HOME"] == str(tmp_path / "airflow")
    assert exports["AIRFLOW__API__PORT"] == "58777"
    # The CLI sees the same DAGs as the running Airflow: the same start date.
    assert exports["SHOPFLOW_START_DATE"] == (tmp_path / "airflow" / "shopflow_start_date").read_text().strip()
    # The lines survive a shell round trip (the DSN and the JSON connection need quoting).
    script = "\n".join([*result.output.splitlines(), 'printf %s "$AIRFLOW_CONN_SHOPFLOW_LAKE"'])
    shell = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(shell.stdout)["conn_type"] == "aws"
