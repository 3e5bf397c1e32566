"""One Airflow task per dbt model over a single `dbt build` (Cosmos ExecutionMode.WATCHER).

Cosmos' watcher mode runs the whole `dbt build` in one producer task, which reports each node's outcome
to XCom from dbt's log, and gives every model a task that reads its outcome there. Its stock renderings
do not fit this project: `TestBehavior.BUILD` is refused in watcher mode, and `TestBehavior.AFTER_EACH`
adds a second task per model for its tests (twice the task start-ups, twice the chain depth). The node
converter here renders each model as ONE task that succeeds when the model was built and every data
test attached to it passed, and that on a retry (or a cleared task) runs `dbt build --select <model>`
itself, as the former one-`dbt build`-per-model tasks did. Why and what it costs: docs/orchestration.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from cosmos.dbt.graph import DbtNode
from cosmos.operators.watcher import DbtRunWatcherOperator, DbtTestWatcherOperator

# Model tasks start once the producer is done, so their first look at its report normally finds the
# model's status; a status that never came (a model dbt did not run) is left to Cosmos' deferral.
POKE_SECONDS = 2


class _WatchModel:
    """Wait for the producer's report on one model; on a retry or a cleared task, `dbt build` it here."""

    base_cmd: ClassVar[list[str]] = ["build"]

    @property
    def _resource_label(self) -> str:
        return "Model"

    def _fallback_to_non_watcher_run(self, try_number: int, context: Any) -> bool:
        model = DbtNode.get_resource_name_from_unique_id(self.model_unique_id)
        self.log.info("Try %s: running `dbt build --select %s` in this task", try_number, model)
        self.build_and_run_cmd(context, cmd_flags=["--select", model])
        return True


class DbtModelAndTestsWatcher(_WatchModel, DbtTestWatcherOperator):
    """A model with data tests: succeeds when the producer reports every test on it passed.

    dbt build runs a model's tests after the model, and skips them when the model (or one of its unit
    tests) failed, so "all passed" implies "built" and a failed model fails this task.
    """


class DbtModelWatcher(_WatchModel, DbtRunWatcherOperator):
    """A model without data tests: succeeds when the producer reports the model built."""


def model_converter(tests_per_model: dict[str, list[str]]) -> Callable[..., Any]:
    """Cosmos node converter (RenderConfig.node_converters) for models: one watcher sensor per model.

    `tests_per_model` maps a model's unique id to the data tests that count for it (the producer's map too).
    """

    def model_task(*, dag: Any, task_group: Any, node: Any, task_id: str, task_args: dict[str, Any], **_: Any) -> Any:
        operator = DbtModelAndTestsWatcher if tests_per_model.get(node.unique_id) else DbtModelWatcher
        return operator(
            task_id=task_id,
            dag=dag,
            task_group=task_group,
            extra_context={"dbt_node_config": node.context_dict, "package_name": node.package_name},
            poke_interval=POKE_SECONDS,
            deferrable=True,
            **task_args,
        )

    return model_task


def emit_model_lineage(context: Any) -> None:
    """Producer callback (success and failure): one OpenLineage event per dbt model and test of the build.

    After `dbt build`, Cosmos parses dbt's run results with OpenLineage's dbt integration into one
    COMPLETE event per node (its inputs, its output table, SQL, column lineage, row count) and folds
    them all into the producer task's own event. The model tasks of watcher mode run no dbt and
    report no datasets, so the per-model events are emitted here, under the producer's run.
    """
    producer = context["task"]
    events = list(getattr(producer, "openlineage_events_completes", None) or [])
    if not events:
        return
    from airflow.providers.openlineage import conf
    from airflow.providers.openlineage.plugins import macros
    from airflow.providers.openlineage.plugins.listener import get_openlineage_listener

    from shopflow.lineage import ParentRun, with_parent

    if conf.is_disabled():
        return
    ti = context["ti"]
    parent = ParentRun(
        namespace=macros.lineage_job_namespace(),
        job_name=macros.lineage_job_name(ti),
        run_id=macros.lineage_run_id(ti),
        root_namespace=macros.lineage_root_job_namespace(ti),
        root_job_name=macros.lineage_root_job_name(ti),
        root_run_id=macros.lineage_root_run_id(ti),
    )
    adapter = get_openlineage_listener().adapter
    for event in with_parent(events, parent):
        try:
            adapter.emit(event)
        except Exception:
            # Lineage is a report on the build, not part of it: a lost event must not fail the task.
            producer.log.warning("could not emit the OpenLineage event of %s", event.job.name, exc_info=True)
