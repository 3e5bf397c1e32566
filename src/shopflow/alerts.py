"""Alerts that reach someone: failed tasks, failed DAG runs, missed deadlines and stale sources, posted to a webhook.

The webhook is Slack-compatible (an incoming webhook takes `{"text": ...}`; Mattermost and
Rocket.Chat accept the same) and comes from SHOPFLOW_ALERT_WEBHOOK_URL (config.Settings). Airflow is
never imported here: dags/ passes its callback context, a mapping, to the functions below.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shopflow.errors import ShopflowError

log = logging.getLogger(__name__)

WEBHOOK_VARIABLE = "SHOPFLOW_ALERT_WEBHOOK_URL"
# Slack truncates long messages; the first lines of an error name what failed.
MAX_ERROR_CHARS = 1500


class AlertError(ShopflowError, RuntimeError):
    """The webhook could not be reached or refused the alert."""


class AlertedError(ShopflowError, RuntimeError):
    """A failure whose task already posted its own, more detailed alert: the callback skips it."""

    alert_sent = True


@dataclass(frozen=True)
class Alert:
    kind: str  # "task failed", "DAG run failed", "deadline missed", "source freshness"
    dag_id: str | None
    task_id: str | None
    run_date: str | None  # the run's logical date / partition, ISO
    error: str
    run_id: str | None = None
    try_number: int | None = None
    log_url: str | None = None

    def text(self) -> str:
        where = " / ".join(part for part in (self.dag_id, self.task_id) if part) or "shopflow"
        lines = [f":rotating_light: *{self.kind}*: {where}"]
        if self.dag_id:
            lines.append(f"DAG: `{self.dag_id}`")
        if self.task_id:
            attempt = f" (attempt {self.try_number})" if self.try_number else ""
            lines.append(f"task: `{self.task_id}`{attempt}")
        if self.run_date:
            lines.append(f"date: {self.run_date}")
        if self.run_id:
            lines.append(f"run: {self.run_id}")
        error = self.error if len(self.error) <= MAX_ERROR_CHARS else self.error[:MAX_ERROR_CHARS] + " [...]"
        lines.append(f"error: {error}")
        if self.log_url:
            lines.append(f"log: {self.log_url}")
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        return {"text": self.text()}


def configured_webhook_url() -> str | None:
    """SHOPFLOW_ALERT_WEBHOOK_URL from the settings; None (logged) when the settings are broken."""
    from shopflow.config import ConfigError, load_settings

    try:
        return load_settings().alert_webhook_url
    except ConfigError as exc:
        log.error("cannot read the alert webhook from the settings: %s", exc)
        return None


def post_alert(alert: Alert, webhook_url: str, timeout: float = 10.0) -> None:
    """POST the alert as JSON; AlertError naming the URL's host and the answer when it fails."""
    request = urllib.request.Request(
        webhook_url,
        data=json.dumps(alert.payload()).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    host = urllib.parse.urlsplit(webhook_url).netloc
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()[:200].decode(errors="replace")
        raise AlertError(f"alert webhook at {host} answered {exc.code}: {body}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise AlertError(f"alert webhook at {host} is unreachable: {exc}") from exc


def send(alert: Alert, webhook_url: str | None = None) -> bool:
    """Post `alert` to the configured webhook; log (never raise) when unset or failing.

    A callback that raised would hide the failure being reported behind its own; the log keeps it.
    """
    url = webhook_url or configured_webhook_url()
    if not url:
        log.warning("%s is not set; alert not sent: %s", WEBHOOK_VARIABLE, alert.text())
        return False
    try:
        post_alert(alert, url)
    except AlertError as exc:
        log.error("%s; alert not sent: %s", exc, alert.text())
        return False
    return True


# --- Airflow callback contexts (duck-typed: no Airflow import) ----------------------------------------


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value) if value else None


def _run_date(context: Mapping[str, Any]) -> str | None:
    dag_run = context.get("dag_run")
    for value in (
        context.get("logical_date"),
        _get(dag_run, "logical_date"),
        context.get("data_interval_start"),
        _get(dag_run, "data_interval_start"),
        context.get("ds"),
    ):
        if value:
            return _iso(value)
    return None


def _dag_id(context: Mapping[str, Any]) -> str | None:
    for source in (context.get("dag"), context.get("dag_run"), context.get("task_instance") or context.get("ti")):
        value = _get(source, "dag_id")
        if value:
            return str(value)
    return None


def alert_from_task_context(context: Mapping[str, Any]) -> Alert:
    """The alert for a task's `on_failure_callback` context."""
    ti = context.get("task_instance") or context.get("ti")
    exception = context.get("exception")
    error = f"{type(exception).__name__}: {exception}" if isinstance(exception, BaseException) else str(exception or "")
    return Alert(
        kind="task failed",
        dag_id=_dag_id(context),
        task_id=_get(ti, "task_id") or _get(context.get("task"), "task_id"),
        run_date=_run_date(context),
        error=error or "no exception was recorded (killed, timed out, or failed by hand)",
        run_id=context.get("run_id") or _get(ti, "run_id") or _get(context.get("dag_run"), "run_id"),
        try_number=_get(ti, "try_number"),
        log_url=_get(ti, "log_url"),
    )


def alert_from_dag_context(context: Mapping[str, Any]) -> Alert:
    """The alert for a DAG's `on_failure_callback` context (the run failed or timed out)."""
    dag_run = context.get("dag_run")
    failed = [
        _get(ti, "task_id")
        for ti in (_call(dag_run, "get_task_instances") or [])
        if str(_get(ti, "state") or "").lower().endswith("failed")
    ]
    reason = str(context.get("reason") or "")
    error = reason or "the run failed"
    if failed:
        error += f"; failed tasks: {', '.join(sorted(t for t in failed if t))}"
    return Alert(
        kind="DAG run failed",
        dag_id=_dag_id(context),
        task_id=None,
        run_date=_run_date(context),
        error=error,
        run_id=context.get("run_id") or _get(dag_run, "run_id"),
    )


def _call(obj: Any, method: str) -> Any:
    function = getattr(obj, method, None)
    if not callable(function):
        return None
    try:
        return function()
    except Exception:
        log.debug("could not call %s.%s for the alert", type(obj).__name__, method, exc_info=True)
        return None


def _already_alerted(exception: Any) -> bool:
    # A task that posted its own, more detailed alert (source freshness) marks its error; dags/
    # re-raise errors as AirflowFailException `from` the original, so look at the cause too.
    return any(getattr(e, "alert_sent", False) for e in (exception, getattr(exception, "__cause__", None)))


def task_failure_callback(context: Mapping[str, Any]) -> None:
    """`on_failure_callback` for tasks (dags/_common.py sets it in every DAG's default_args)."""
    if _already_alerted(context.get("exception")):
        return
    send(alert_from_task_context(context))


def dag_failure_callback(context: Mapping[str, Any]) -> None:
    """`on_failure_callback` for DAG runs."""
    send(alert_from_dag_context(context))


# --- missed deadlines (Airflow deadline alerts) --------------------------------------------------------
def alert_from_deadline_context(missed: str, context: Mapping[str, Any]) -> Alert:
    """The alert for a missed deadline: `missed` says what was due, `context` is what Airflow passes.

    Airflow's scheduler passes the run as its REST API shows it (`dag_run`: dag_id, dag_run_id,
    logical_date, data_interval_start, queued_at, state, ... as JSON) and the `deadline` (its time).
    """
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    run_date = next(
        (_iso(dag_run.get(key)) for key in ("logical_date", "data_interval_start", "run_after") if dag_run.get(key)),
        None,
    )
    details = [f"missed: {missed}"]
    if deadline.get("deadline_time"):
        details.append(f"deadline {_iso(deadline['deadline_time'])}")
    if dag_run.get("queued_at"):
        details.append(f"queued {_iso(dag_run['queued_at'])}")
    if dag_run.get("state"):
        details.append(f"run still {dag_run['state']}")
    return Alert(
        kind="deadline missed",
        dag_id=dag_run.get("dag_id"),
        task_id=None,
        run_date=run_date,
        error="; ".join(details),
        run_id=dag_run.get("dag_run_id") or dag_run.get("run_id"),
    )


async def deadline_missed_callback(missed: str, context: Mapping[str, Any] | None = None) -> bool:
    """The DAGs' deadline alert callback (an Airflow AsyncCallback: the triggerer awaits it).

    The webhook call blocks, so it runs in a thread: the triggerer's event loop keeps serving the
    deferred tasks meanwhile. Returns whether the alert was posted; never raises (see `send`).
    """
    return await asyncio.to_thread(send, alert_from_deadline_context(missed, context or {}))
