"""Alerts reach a webhook: task and DAG-run failures, stale sources (shopflow.alerts)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from shopflow import alerts
from shopflow.alerts import Alert, AlertError, post_alert


class Receiver:
    """A local Slack-compatible webhook: records each JSON body, answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.messages: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                owner.messages.append(json.loads(self.rfile.read(length)))
                self.send_response(owner.status)
                self.end_headers()
                self.wfile.write(b"ok" if owner.status == 200 else b"invalid_payload")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000"
        # shutdown() waits for serve_forever's next poll: the default 0.5 s would be paid by every test.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(monkeypatch):
    server = Receiver()
    monkeypatch.setenv("SHOPFLOW_ALERT_WEBHOOK_URL", server.url)
    yield server
    server.close()


LOGICAL_DATE = datetime(2026, 1, 3, tzinfo=UTC)


def _task_context(task_id: str, exception: BaseException, dag_id: str = "ingest_shop") -> dict:
    """The keys Airflow 3 passes a task's on_failure_callback that the alert reads."""
    dag_run = SimpleNamespace(
        dag_id=dag_id,
        run_id="scheduled__2026-01-03T00:00:00+00:00",
        logical_date=LOGICAL_DATE,
        data_interval_start=LOGICAL_DATE,
    )
    ti = SimpleNamespace(
        dag_id=dag_id,
        task_id=task_id,
        run_id=dag_run.run_id,
        try_number=1,
        state="failed",
        log_url="http://127.0.0.1:8080/dags/ingest_shop/runs/x/tasks/gate_orders",
    )
    return {
        "dag": SimpleNamespace(dag_id=dag_id),
        "dag_run": dag_run,
        "task_instance": ti,
        "ti": ti,
        "task": SimpleNamespace(task_id=task_id),
        "run_id": dag_run.run_id,
        "logical_date": LOGICAL_DATE,
        "ds": "2026-01-03",
        "exception": exception,
    }


def test_a_failing_gate_posts_an_alert_naming_dag_task_date_and_error(receiver):
    """The real gate rejects a partition; the task callback the DAGs use reports it."""
    from airflow.sdk.exceptions import AirflowFailException

    from shopflow.contracts import ORDERS
    from shopflow.quality.gate import QualityGateError, validate_csv
    from shopflow.quality.suites import PartitionContext
    from tests.quality_samples import SAMPLE_PRODUCT_IDS, partition_csv, sample_rows

    dt = date(2026, 1, 3)
    rows = sample_rows(ORDERS, dt, 10)
    rows[6]["status"] = "lost"
    ctx = PartitionContext(ORDERS, dt, 10, known_product_ids=SAMPLE_PRODUCT_IDS, known_order_ids=frozenset(range(99)))
    with pytest.raises(QualityGateError) as rejected:
        validate_csv(ctx, partition_csv(ORDERS, rows))
    # dags/_common.py re-raises a gate error as AirflowFailException (no retry), `from` the original.
    try:
        raise AirflowFailException(str(rejected.value)) from rejected.value
    except AirflowFailException as failure:
        alerts.task_failure_callback(_task_context("gate_orders", failure))

    (message,) = receiver.messages
    text = message["text"]
    assert "task failed" in text
    assert "DAG: `ingest_shop`" in text and "task: `gate_orders` (attempt 1)" in text
    assert "date: 2026-01-03T00:00:00+00:00" in text
    assert "AirflowFailException: quality gate rejected raw/shop/orders/dt=2026-01-03" in text
    assert "status='lost'" in text
    assert "log: http://127.0.0.1:8080/dags/ingest_shop/" in text


def test_a_failed_dag_run_names_its_failed_tasks(receiver):
    failed = SimpleNamespace(task_id="load_orders", state="failed")
    upstream = SimpleNamespace(task_id="load_order_items", state="upstream_failed")
    fine = SimpleNamespace(task_id="extract_orders", state="success")
    dag_run = SimpleNamespace(
        dag_id="ingest_shop",
        run_id="scheduled__2026-01-03T00:00:00+00:00",
        logical_date=LOGICAL_DATE,
        get_task_instances=lambda: [fine, failed, upstream],
    )
    alerts.dag_failure_callback(
        {"dag": SimpleNamespace(dag_id="ingest_shop"), "dag_run": dag_run, "reason": "task_failure"}
    )
    text = receiver.messages[0]["text"]
    assert "DAG run failed" in text and "DAG: `ingest_shop`" in text and "date: 2026-01-03" in text
    assert "error: task_failure; failed tasks: load_order_items, load_orders" in text


def test_a_run_that_timed_out_without_task_instances_still_alerts(receiver):
    dag_run = SimpleNamespace(dag_id="transform", run_id="manual__1", logical_date=None, data_interval_start=None)
    alerts.dag_failure_callback({"dag_run": dag_run, "reason": "timed_out"})
    text = receiver.messages[0]["text"]
    assert "DAG: `transform`" in text and "error: timed_out" in text and "date:" not in text


def test_long_errors_are_cut_and_missing_exceptions_explained(receiver):
    context = _task_context("load_orders", RuntimeError("x" * 5000))
    alerts.task_failure_callback(context)
    assert receiver.messages[0]["text"].endswith("x [...]\nlog: " + context["ti"].log_url)
    alerts.task_failure_callback({**_task_context("load_orders", None), "exception": None})
    assert "no exception was recorded" in receiver.messages[1]["text"]


def test_without_a_webhook_the_alert_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.delenv("SHOPFLOW_ALERT_WEBHOOK_URL", raising=False)
    assert alerts.send(Alert("task failed", "d", "t", "2026-01-03", "boom")) is False
    assert "SHOPFLOW_ALERT_WEBHOOK_URL is not set" in caplog.text and "boom" in caplog.text


def test_a_refusing_or_missing_webhook_is_a_clear_error_and_never_breaks_the_callback(caplog):
    refusing = Receiver(status=400)
    try:
        with pytest.raises(AlertError, match=r"answered 400: invalid_payload"):
            post_alert(Alert("task failed", "d", "t", None, "boom"), refusing.url)
    finally:
        refusing.close()
    with pytest.raises(AlertError, match="unreachable"):
        post_alert(Alert("task failed", "d", "t", None, "boom"), "http://127.0.0.1:9/hook", timeout=2)
    assert alerts.send(Alert("task failed", "d", "t", None, "boom"), "http://127.0.0.1:9/hook") is False
    assert "unreachable" in caplog.text


def test_a_task_that_alerted_itself_is_not_reported_twice(receiver):
    try:
        raise RuntimeError("wrapped") from alerts.AlertedError("raw.shop_orders is stale")
    except RuntimeError as failure:
        alerts.task_failure_callback(_task_context("source_freshness", failure, "source_freshness"))
    assert receiver.messages == []


def test_stale_sources_post_an_alert_and_fail(receiver, isolated_settings):
    """dbt source freshness on a warehouse whose raw tables exist but were never loaded."""

    import psycopg2

    from shopflow.transform.freshness import StaleSourcesError, alert_on_stale_sources
    from shopflow.warehouse.raw_schema import ensure_raw_schema

    settings = isolated_settings("freshness").replace(alert_webhook_url=receiver.url)
    conn = psycopg2.connect(settings.warehouse_dsn)
    try:
        ensure_raw_schema(conn)
    finally:
        conn.close()
    with pytest.raises(StaleSourcesError, match="shop_orders"):
        alert_on_stale_sources(settings, date(2026, 1, 3), "source_freshness", "check_sources")
    (message,) = receiver.messages
    text = message["text"]
    assert "source freshness: error" in text and "DAG: `source_freshness`" in text
    assert "task: `check_sources`" in text and "date: 2026-01-03" in text
    assert "source.shopflow.shop.shop_orders [error]: stale: the table has no rows" in text


def _deadline_context(state: str = "running") -> dict:
    """What Airflow's scheduler passes a deadline callback: the run as its REST API shows it (JSON), the deadline."""
    return {
        "dag_run": {
            "dag_run_id": "scheduled__2026-01-03T00:00:00+00:00",
            "dag_id": "ingest_shop",
            "logical_date": "2026-01-03T00:00:00Z",
            "queued_at": "2026-01-04T00:00:05Z",
            "start_date": "2026-01-04T00:00:06Z",
            "end_date": None,
            "data_interval_start": "2026-01-03T00:00:00Z",
            "data_interval_end": "2026-01-04T00:00:00Z",
            "run_after": "2026-01-04T00:00:00Z",
            "run_type": "scheduled",
            "state": state,
            "conf": {},
        },
        "deadline": {"id": "0193aa00-0000-7000-8000-000000000001", "deadline_time": "2026-01-04T06:00:05Z"},
    }


def test_a_missed_deadline_posts_an_alert_naming_dag_date_and_what_was_missed(receiver):
    """Run the way Airflow's triggerer runs a deadline's AsyncCallback (airflow.triggers.callback)."""
    import asyncio

    from airflow.triggers.callback import CallbackTrigger

    missed = "the day's shop changes loaded into raw.shop_* within 6 h of the run being queued"
    trigger = CallbackTrigger(
        callback_path="shopflow.alerts.deadline_missed_callback",
        callback_kwargs={"missed": missed, "context": _deadline_context()},
    )

    async def outcome() -> list:
        return [event.payload async for event in trigger.run()]

    *_, final = asyncio.run(outcome())
    assert final == {"state": "success", "body": True}, final
    (message,) = receiver.messages
    text = message["text"]
    assert "deadline missed" in text and "DAG: `ingest_shop`" in text and "task:" not in text
    assert "date: 2026-01-03T00:00:00Z" in text and "run: scheduled__2026-01-03T00:00:00+00:00" in text
    assert f"error: missed: {missed}; deadline 2026-01-04T06:00:05Z; queued 2026-01-04T00:00:05Z" in text
    assert "run still running" in text


def test_a_deadline_alert_without_a_webhook_or_context_is_logged_not_raised(monkeypatch, caplog):
    import asyncio

    monkeypatch.delenv("SHOPFLOW_ALERT_WEBHOOK_URL", raising=False)
    assert asyncio.run(alerts.deadline_missed_callback("the marts published within 2 h")) is False
    assert "deadline missed" in caplog.text and "the marts published within 2 h" in caplog.text
