"""The `transform` DAG: one dbt build followed model by model through Cosmos, then the marts published."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos import settings as cosmos_settings
from cosmos.constants import (
    PRODUCER_WATCHER_TASK_ID,
    DbtResourceType,
    ExecutionMode,
    InvocationMode,
    LoadMode,
    TestBehavior,
)

from _common import (
    DAG_FAILURE_CALLBACK,
    DEFAULT_ARGS,
    MARTS_ASSET,
    START_DATE,
    raw_asset,
    run_deadline,
    set_dbt_profile_env,
)
from _dbt_watcher import _WatchModel, emit_model_lineage, follow_the_build, model_converter
from shopflow.contracts import LOAD_ORDER
from shopflow.orchestration import steps
from shopflow.orchestration.dbt_manifest import MANIFEST_PATH, TRANSFORM_DIR, tests_by_model
from shopflow.telemetry import DBT_NO_USAGE_STATS_FLAG

# Cosmos' telemetry listeners are loaded with Airflow's plugins, before any DAG file, so they have read
# [cosmos] enable_telemetry already; they check this value each time they would send.
cosmos_settings.enable_telemetry = False

if not MANIFEST_PATH.exists():
    raise FileNotFoundError(
        f"{MANIFEST_PATH} does not exist: the transform DAG is rendered from dbt's manifest. Build it with "
        "`shopflow airflow manifest` (dbt parse; `shopflow airflow up` does it at start)"
    )
TESTS_PER_MODEL = tests_by_model(MANIFEST_PATH)


@dag(
    dag_id="transform",
    # Data-aware: a run starts once every raw table has been updated since the previous run.
    schedule=[raw_asset(name) for name in LOAD_ORDER],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 2},
    on_failure_callback=DAG_FAILURE_CALLBACK,
    deadline=run_deadline(
        timedelta(hours=2), "the dbt build done and the marts published within 2 h of the run being queued"
    ),
    tags=["shopflow", "transform", "dbt"],
)
def transform():
    """
    ### dbt star schema, then the marts published

    Triggered by the raw-table assets (`warehouse://raw/*`): a run starts when all five raw
    tables have been loaded since the last run, so a day's ingestion DAGs finishing triggers one
    transform, and a catchup of many days triggers as few as the loads allow.

    * **dbt** (Cosmos `DbtTaskGroup`, watcher execution mode): `dbt_producer_watcher` runs ONE
      `dbt build` of the whole project (models, data tests, unit tests; the manifest
      `transform/target/manifest.json` is rebuilt by `shopflow airflow manifest`), and each model has
      its own task, `<model>_model_build`, in dbt's lineage order, which turns green once the build
      reports the model built and every data test attached to it passed (within 5 s), or at once when
      the whole build succeeds; its log says which.
      Retrying or clearing a model's task runs `dbt build --select <model>` in that task.
      Staging and intermediate models are views, marts tables with enforced contracts.
      dbt's tests are the marts' quality gate: a failing test fails its model's task.
    * **publish_marts**: updates the asset `warehouse://marts/`, which triggers `dashboards`, with
      the date the warehouse is complete through and each mart's row count as the event's extra.
    """
    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(dbt_project_path=TRANSFORM_DIR, manifest_path=MANIFEST_PATH),
        profile_config=ProfileConfig(
            profile_name="shopflow", target_name="warehouse", profiles_yml_filepath=TRANSFORM_DIR / "profiles.yml"
        ),
        # One `dbt build` in the producer task, one watching task per model (docs/orchestration.md).
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            # A retried model's task runs dbt in its own process: no second interpreter start-up.
            invocation_mode=InvocationMode.DBT_RUNNER,
            # The producer runs the dbt CLI and reads its JSON log as dbt writes it. In-process, Cosmos
            # handles every dbt event in dbt's own threads, pushing XComs behind one lock: a slower build.
            setup_operator_args={"invocation_mode": InvocationMode.SUBPROCESS},
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # A model's task stands for the model and its tests, as under `dbt build` (see _dbt_watcher).
            test_behavior=TestBehavior.BUILD,
            node_converters={DbtResourceType.MODEL: model_converter(TESTS_PER_MODEL)},
            # A test across models runs inside the one build, after both models: no task of its own.
            should_detach_multiple_parents_tests=False,
            # The marts asset below is emitted once, after every model and test has passed.
            emit_datasets=False,
        ),
        operator_args={
            "install_deps": False,
            "interceptors": [set_dbt_profile_env],
            "dbt_cmd_global_flags": [DBT_NO_USAGE_STATS_FLAG],
        },
    )

    @task(outlets=[MARTS_ASSET])
    def publish_marts() -> dict:
        summary = steps.published_marts()
        get_current_context()["outlet_events"][MARTS_ASSET].extra = summary
        return summary

    producer = dbt.dag.get_task(f"{dbt.group_id}.{PRODUCER_WATCHER_TASK_ID}")
    # Cosmos files a test across models under each model it reads, so a model's status would wait for
    # models built after it; the producer counts each test for the model it is attached to instead.
    producer.tests_per_model = TESTS_PER_MODEL
    # Each model's OpenLineage event, from dbt's run results, whatever the build's outcome.
    for callbacks in ("on_success_callback", "on_failure_callback"):
        existing = getattr(producer, callbacks) or []
        setattr(producer, callbacks, [*(existing if isinstance(existing, list) else [existing]), emit_model_lineage])
    # Each model's task follows the build from the run's start, in the triggerer (_dbt_watcher).
    for watcher in dbt.children.values():
        if isinstance(watcher, _WatchModel):
            follow_the_build(watcher)
    dbt >> publish_marts()


transform()
