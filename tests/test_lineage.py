"""OpenLineage settings, transport and dataset names (shopflow.lineage); the events of a real run are
read in tests/test_airflow_e2e.py."""

from __future__ import annotations

import json

import pytest

from shopflow.config import ConfigError, Settings
from shopflow.lineage import (
    ParentRun,
    airflow_environment,
    prepare_lineage_file,
    step_lineage,
    transport,
    with_parent,
)

DSNS = {
    "SHOP_DSN": "postgresql://app:secret@shop-db:5433/shop",  # pragma: allowlist secret
    "WAREHOUSE_DSN": "postgresql://app:secret@wh-db:5434/warehouse",  # pragma: allowlist secret
    "FAKESTORE_API_URL": "http://fakestore:8000/",
    "LAKE_BUCKET": "lake",
}


def test_events_go_to_a_file_in_the_state_dir_by_default(tmp_path):
    settings = Settings.from_env({}, state_dir=tmp_path)
    assert transport(settings) == {
        "type": "file",
        "log_file_path": str(tmp_path / "lineage" / "openlineage.jsonl"),
        "append": True,
    }
    env = airflow_environment(settings)
    assert env["AIRFLOW__OPENLINEAGE__DISABLED"] == "False"
    assert json.loads(env["AIRFLOW__OPENLINEAGE__TRANSPORT"])["type"] == "file"
    prepare_lineage_file(settings)
    assert (tmp_path / "lineage").is_dir()


def test_a_lineage_url_sends_events_to_marquez_instead(tmp_path):
    settings = Settings.from_env(
        {"SHOPFLOW_LINEAGE_URL": "http://marquez:5000/", "SHOPFLOW_LINEAGE_NAMESPACE": "shop-prod"}, state_dir=tmp_path
    )
    assert transport(settings) == {
        "type": "http",
        "url": "http://marquez:5000",
        "endpoint": "api/v1/lineage",
        "timeout": 5.0,
    }
    assert airflow_environment(settings)["AIRFLOW__OPENLINEAGE__NAMESPACE"] == "shop-prod"
    prepare_lineage_file(settings)
    assert not (tmp_path / "lineage").exists()


def test_lineage_can_be_switched_off_and_a_bad_url_is_refused(tmp_path):
    off = Settings.from_env({"SHOPFLOW_LINEAGE_ENABLED": "false"}, state_dir=tmp_path)
    assert airflow_environment(off) == {"AIRFLOW__OPENLINEAGE__DISABLED": "True"}
    with pytest.raises(ConfigError, match=r"SHOPFLOW_LINEAGE_URL='marquez:5000': not an http\(s\) URL"):
        Settings.from_env({"SHOPFLOW_LINEAGE_URL": "marquez:5000"})


def test_steps_name_their_datasets_as_dbt_names_the_same_tables():
    from shopflow.transform.runner import dbt_env

    settings = Settings.from_env(DSNS)
    names = {
        (entity, step): ([(d.namespace, d.name) for d in lin.inputs], [(d.namespace, d.name) for d in lin.outputs])
        for entity in ("shop.order_items", "fakestore.products", "clickstream.events")
        for step in ("extract", "load")
        for lin in [step_lineage(settings, entity, step)]
    }
    assert names[("shop.order_items", "extract")] == (
        [("postgres://shop-db:5433", "shop.public.order_items")],
        [("s3://lake", "raw/shop/order_items")],
    )
    assert names[("fakestore.products", "extract")][0] == [("http://fakestore:8000", "products")]
    assert names[("clickstream.events", "extract")] == (
        [("s3://lake", "landing/clickstream/events")],
        [("s3://lake", "raw/clickstream/events")],
    )
    # dbt's OpenLineage integration names a source postgres://<profile host>:<port> + db.schema.table.
    dbt = dbt_env(settings)
    [(namespace, name)] = names[("shop.order_items", "load")][1]
    assert namespace == f"postgres://{dbt['DBT_PG_HOST']}:{dbt['DBT_PG_PORT']}"
    assert name == f"{dbt['DBT_PG_DBNAME']}.raw.shop_order_items"
    with pytest.raises(ValueError, match=r"unknown pipeline step 'publish' for shop\.orders"):
        step_lineage(settings, "shop.orders", "publish")


def test_model_events_are_filed_under_the_task_that_built_them_and_written_to_the_file(tmp_path):
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    settings = Settings.from_env({}, state_dir=tmp_path)
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime="2026-03-03T00:10:00+00:00",
        run=Run(runId="01935b1c-0000-7000-8000-000000000001"),
        job=Job(namespace="shopflow", name="warehouse.marts.fact_orders.build.run"),
        producer="https://github.com/astronomer/astronomer-cosmos",
    )
    parent = ParentRun(
        namespace="shopflow",
        job_name="transform.dbt.dbt_producer_watcher",
        run_id="01935b1c-0000-7000-8000-000000000002",
        root_namespace="shopflow",
        root_job_name="transform",
        root_run_id="01935b1c-0000-7000-8000-000000000003",
    )
    prepare_lineage_file(settings)
    client = OpenLineageClient(config={"transport": transport(settings)})
    [item] = with_parent([event], parent)
    assert "parent" not in (event.run.facets or {})  # a copy: Cosmos' own event is left as it was
    client.emit(item)
    client.emit(item)
    lines = settings.lineage_file.read_text().splitlines()
    assert len(lines) == 2  # appended, one event a line
    written = json.loads(lines[0])
    job = written["run"]["facets"]["parent"]["job"]
    assert (job["namespace"], job["name"]) == ("shopflow", parent.job_name)
    assert written["run"]["facets"]["parent"]["root"]["run"]["runId"] == parent.root_run_id


def test_with_a_url_the_events_are_posted_where_marquez_collects_them(tmp_path):
    """A local HTTP server stands in for Marquez: the client posts each event to <url>/api/v1/lineage."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    received: list[tuple[str, dict]] = []

    class Marquez(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((self.path, json.loads(body)))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Marquez)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        settings = Settings.from_env({"SHOPFLOW_LINEAGE_URL": url}, state_dir=tmp_path)
        client = OpenLineageClient(config={"transport": transport(settings)})
        client.emit(
            RunEvent(
                eventType=RunState.START,
                eventTime="2026-03-03T00:00:00+00:00",
                run=Run(runId="01935b1c-0000-7000-8000-000000000004"),
                job=Job(namespace="shopflow", name="ingest_shop.load_orders"),
                producer="https://github.com/apache/airflow/tree/providers-openlineage/2.20.3",
            )
        )
    finally:
        server.shutdown()
        server.server_close()
    [(path, event)] = received
    assert path == "/api/v1/lineage" and event["job"]["name"] == "ingest_shop.load_orders"
    assert not settings.lineage_file.exists()
