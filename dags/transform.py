"""The `transform` DAG: dbt models and tests through Cosmos, then the marts published to the dashboards."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from _common import DAG_FAILURE_CALLBACK, DEFAULT_ARGS, MARTS_ASSET, START_DATE, raw_asset, set_dbt_profile_env
from shopflow.contracts import LOAD_ORDER
from shopflow.orchestration import steps
from shopflow.orchestration.dbt_manifest import MANIFEST_PATH, TRANSFORM_DIR

if not MANIFEST_PATH.exists():
    raise FileNotFoundError(
        f"{MANIFEST_PATH} does not exist: the transform DAG is rendered from dbt's manifest. Build it with "
        "`shopflow airflow manifest` (dbt parse; `shopflow airflow up` does it at start)"
    )


@dag(
    dag_id="transform",
    # Data-aware: a run starts once every raw table has been updated since the previous run.
    schedule=[raw_asset(name) for name in LOAD_ORDER],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 2},
    on_failure_callback=DAG_FAILURE_CALLBACK,
    tags=["shopflow", "transform", "dbt"],
)
def transform():
    """
    ### dbt star schema, then the marts published

    Triggered by the raw-table assets (`warehouse://raw/*`): a run starts when all five raw
    tables have been loaded since the last run, so a day's ingestion DAGs finishing triggers one
    transform, and a catchup of many days triggers as few as the loads allow.

    * **dbt** (Cosmos `DbtTaskGroup`): one task per dbt model that runs `dbt build` for it, its
      data tests and unit tests included, in the dependency order of the manifest
      (`transform/target/manifest.json`, rebuilt by `shopflow airflow manifest`); staging and
      intermediate models are views, marts tables with enforced contracts. dbt's tests are the
      marts' quality gate: a failing test fails its model's task and nothing downstream runs.
    * **publish_marts**: updates the asset `warehouse://marts/`, which triggers `dashboards`, with
      the date the warehouse is complete through and each mart's row count as the event's extra.
    """
    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path=TRANSFORM_DIR, manifest_path=MANIFEST_PATH),
        profile_config=ProfileConfig(
            profile_name="shopflow", target_name="warehouse", profiles_yml_filepath=TRANSFORM_DIR / "profiles.yml"
        ),
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            # A test across models (relationships) gets its own task after all of them: run inside
            # one model's `dbt build`, it would query a model that is not built yet.
            should_detach_multiple_parents_tests=True,
            # The marts asset below is emitted once, after every model and test has passed.
            emit_datasets=False,
        ),
        operator_args={"install_deps": False, "interceptors": [set_dbt_profile_env]},
    )

    @task(outlets=[MARTS_ASSET])
    def publish_marts() -> dict:
        summary = steps.published_marts()
        get_current_context()["outlet_events"][MARTS_ASSET].extra = summary
        return summary

    dbt >> publish_marts()


transform()
