"""dbt source freshness, turned into alerts (transform/models/staging/*/_*__sources.yml set the limits)."""

from __future__ import annotations

from datetime import date

from shopflow.alerts import Alert, AlertedError, send
from shopflow.config import Settings
from shopflow.transform.runner import TransformError, run_dbt


class StaleSourcesError(AlertedError):
    """A source is older than its error_after limit; the message lists them. Already alerted."""


def _warnings(result) -> list[str]:
    lines = []
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        if status == "warn":
            name = getattr(getattr(node_result, "node", None), "unique_id", "<unknown source>")
            lines.append(
                f"{name} [warn]: last loaded {node_result.max_loaded_at.isoformat()}, {node_result.age / 3600:.1f} h ago"
            )
    return lines


def check_source_freshness(
    settings: Settings, run_date: date, dag_id: str | None = None, task_id: str | None = None
) -> Alert | None:
    """Run `dbt source freshness`; the alert to send for stale sources (warn or error), or None."""
    try:
        result = run_dbt(["source", "freshness"], settings)
    except TransformError as exc:
        return Alert("source freshness: error", dag_id, task_id, run_date.isoformat(), str(exc))
    warnings = _warnings(result)
    if warnings:
        return Alert("source freshness: warning", dag_id, task_id, run_date.isoformat(), "\n".join(warnings))
    return None


def alert_on_stale_sources(settings: Settings, run_date: date, dag_id: str, task_id: str) -> str:
    """Post the freshness alert, if any; raise StaleSourcesError when a source is past error_after."""
    alert = check_source_freshness(settings, run_date, dag_id, task_id)
    if alert is None:
        return "every source is fresh"
    send(alert, settings.alert_webhook_url)
    if alert.kind.endswith("error"):
        raise StaleSourcesError(alert.error)
    return alert.error
