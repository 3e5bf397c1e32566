"""The `dashboards` DAG: refresh the HTML dashboards and Metabase after the marts change (see its docstring)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from _common import DAG_FAILURE_CALLBACK, DEFAULT_ARGS, MARTS_ASSET, START_DATE, run_deadline
from shopflow.orchestration import steps


@dag(
    dag_id="dashboards",
    schedule=[MARTS_ASSET],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=DAG_FAILURE_CALLBACK,
    deadline=run_deadline(timedelta(hours=1), "the dashboards refreshed within 1 h of the run being queued"),
    tags=["shopflow", "dashboards"],
)
def dashboards():
    """
    ### Refresh the dashboards from the validated marts

    Triggered by the asset `warehouse://marts/`, which `transform` updates once the marts have
    passed their quality gate.

    * **render_html**: runs every card's SQL (read only) and writes the self-contained HTML
      dashboards to `<state dir>/output/dashboards/index.html`.
    * **provision_metabase**: creates or updates the Metabase database, collection, cards and
      dashboards (idempotent). Skipped where `METABASE_URL` is not set, as in the local stack.
    """

    @task
    def render_html() -> dict:
        return steps.render_html_dashboards()

    @task
    def provision_metabase() -> dict:
        if not steps.metabase_configured():
            raise AirflowSkipException("METABASE_URL is not set: no Metabase to provision here")
        return steps.provision_metabase()

    render_html()
    provision_metabase()


dashboards()
