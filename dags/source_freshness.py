"""The `source_freshness` DAG: dbt source freshness, posted as an alert when a source is late."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from _common import DAG_FAILURE_CALLBACK, DAILY, DEFAULT_ARGS, START_DATE, run_deadline, run_partition_date
from shopflow.orchestration import steps


@dag(
    dag_id="source_freshness",
    schedule=DAILY,
    start_date=START_DATE,
    # Freshness is measured against the clock: checking past days again tells nothing new.
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=DAG_FAILURE_CALLBACK,
    deadline=run_deadline(
        timedelta(hours=1), "the daily source freshness check done within 1 h of the run being queued"
    ),
    tags=["shopflow", "monitoring", "dbt"],
)
def source_freshness():
    """
    ### Tell someone when a source stops arriving

    Once a day, after the day is over, **check_sources** runs `dbt source freshness` on the raw
    tables: each source's newest `_loaded_at` against its limits in the dbt sources YAML (warn
    after 36 h, error after 72 h).

    * A source past **warn** posts a warning to `SHOPFLOW_ALERT_WEBHOOK_URL` and the task succeeds.
    * A source past **error** (or a table with no rows) posts an error alert naming each stale
      source, its last load and age, and fails the task without retrying (a retry cannot load data).

    The alert is the task's own; its failure callback does not post the same error a second time.
    See docs/governance.md.
    """

    @task
    def check_sources() -> str:
        context = get_current_context()
        try:
            return steps.source_freshness(run_partition_date(), context["dag"].dag_id, context["task"].task_id)
        except Exception as error:
            if steps.is_stale_sources_error(error):
                raise AirflowFailException(str(error)) from error
            raise

    check_sources()


source_freshness()
