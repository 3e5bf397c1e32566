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

import asyncio
import time
from collections.abc import Callable
from typing import Any, ClassVar

from airflow.sdk import TriggerRule
from airflow.sdk.exceptions import AirflowException
from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
from airflow.triggers.base import StartTriggerArgs, TaskSuccessEvent, TriggerEvent
from asgiref.sync import sync_to_async
from cosmos.dbt.graph import DbtNode
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import (
    PRODUCER_FINAL_STATES,
    PRODUCER_TERMINAL_STATES,
    get_status_xcom_key,
    is_dbt_node_status_success,
)
from cosmos.operators._watcher.triggerer import WatcherTrigger
from cosmos.operators.watcher import DbtRunWatcherOperator, DbtTestWatcherOperator

# How often a model task running on a worker (dag.test(), a retry's wait) reads the producer's report.
POKE_SECONDS = 1
# A model's trigger checks every TRIGGER_POKE_SECONDS whether the producer has ended (one read of the run's
# task states, shared by every model trigger of the run in the triggerer) and reads its own model's verdict
# every REPORT_SECONDS while dbt runs. Its task turns green at most REPORT_SECONDS after dbt built and tested
# the model, and the run goes on as soon as the build ends. Reading every verdict every second took CPU
# from the build on 2 cores: 28 reads a second, and a DAG processor parse per task ended (docs/orchestration.md).
TRIGGER_POKE_SECONDS = 0.25
REPORT_SECONDS = 5.0
SETTLED = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})

# The run's task states, read once per poll interval for every model trigger of the run in this
# triggerer (one request instead of one per trigger): {(dag_id, run_id): (read at, {task_id: state})}.
_run_states: dict[tuple[str, str], tuple[float, dict[str, str | None]]] = {}


def _read_run_states(dag_id: str, run_id: str, max_age: float) -> dict[str, str | None]:
    now = time.monotonic()
    cached = _run_states.get((dag_id, run_id))
    if cached is None or now - cached[0] > max_age:
        states = RuntimeTaskInstance.get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
        cached = (now, {task_id: None if state is None else str(state) for task_id, state in states.items()})
        for stale in [key for key, (read_at, _) in _run_states.items() if now - read_at > 600]:
            del _run_states[stale]
        _run_states[(dag_id, run_id)] = cached
    return cached[1]


def rebuild_verdict(
    states: dict[str, str | None], producer_task_id: str, parents: list[str]
) -> bool | list[str] | None:
    """May a retried model task rebuild its model now? None: not yet (the producer or a dbt parent's task
    is not done); True: yes; a list: no, these parents' tasks did not succeed."""
    if states.get(producer_task_id) not in PRODUCER_TERMINAL_STATES:
        return None
    if any(states.get(parent) not in SETTLED for parent in parents):
        return None
    failed = [parent for parent in parents if states.get(parent) != "success"]
    return failed or True


class ModelReportTrigger(WatcherTrigger):
    """A model task's tries, run in the triggerer from their start (no worker process).

    First try: it reads the model's verdict from the producer's report as dbt writes it (every
    `report_interval` seconds); a model built and tested ends the task there (`TaskSuccessEvent`), as
    does the producer's success (dbt build exited 0), which ends every model task still waiting at
    once. Any other outcome (dbt failed or skipped the model, the producer ended without a verdict)
    resumes the task on a worker, where Cosmos' `execute_complete` fails it or runs dbt for it. A later
    try (a retry, a cleared task) waits until the producer and the tasks of the model's dbt parents are
    done, then resumes on a worker to `dbt build` the model there.
    """

    def __init__(
        self, *, upstream_task_ids: list[str] | None = None, report_interval: float = REPORT_SECONDS, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.upstream_task_ids = list(upstream_task_ids or [])
        self.report_interval = report_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        kwargs = {
            **super().serialize()[1],
            "upstream_task_ids": self.upstream_task_ids,
            "report_interval": self.report_interval,
        }
        return f"{__name__}.{type(self).__name__}", kwargs

    async def _states(self) -> dict[str, str | None]:
        return await sync_to_async(_read_run_states)(self.dag_id, self.run_id, self.poke_interval)

    async def _verdict(self) -> Any:
        from airflow.sdk.execution_time.xcom import XCom

        key = (get_tests_status_xcom_key if self.is_test_sensor else get_status_xcom_key)(self.model_unique_id)
        value = await sync_to_async(XCom.get_one)(
            run_id=self.run_id, key=key, task_id=self.producer_task_id, dag_id=self.dag_id, map_index=-1
        )
        return value if self.is_test_sensor or value is None else value.get("status")

    async def run(self) -> Any:
        ti = self.task_instance  # set by the triggerer before it runs the trigger
        self.dag_id, self.run_id, self.map_index = ti.dag_id, ti.run_id, ti.map_index
        if ti.try_number > 1:
            while (
                verdict := rebuild_verdict(await self._states(), self.producer_task_id, self.upstream_task_ids)
            ) is None:
                await asyncio.sleep(self.poke_interval)
            yield TriggerEvent({"rerun": True} if verdict is True else {"parents_failed": verdict})  # type: ignore[no-untyped-call]
            return
        clock = asyncio.get_running_loop().time
        next_report = clock() + self.report_interval
        while True:
            producer = (await self._states()).get(self.producer_task_id)
            if producer == "success":
                # The producer succeeds only when `dbt build` exited 0: every model built, every test passed.
                self.log.info("the dbt build succeeded: %s was built and its data tests passed", self.model_unique_id)
                yield TaskSuccessEvent()
                return
            ended = producer in PRODUCER_FINAL_STATES
            if ended or clock() >= next_report:
                next_report = clock() + self.report_interval
                verdict = await self._verdict()
                if is_dbt_node_status_success(verdict):
                    self.log.info("dbt built %s and its data tests passed: %s", self.model_unique_id, verdict)
                    yield TaskSuccessEvent()
                    return
                if verdict is not None or ended:
                    # Cosmos' trigger turns any other outcome into the event its execute_complete expects.
                    async for event in super().run():
                        yield event
                        return
            await asyncio.sleep(self.poke_interval)


def _not_rebuilt(model_unique_id: str, failed_parents: list[str]) -> AirflowException:
    return AirflowException(
        f"{model_unique_id} not rebuilt: the tasks of its dbt parents {failed_parents} did not succeed"
    )


class _WatchModel:
    """Wait for the producer's report on one model; on a retry or a cleared task, `dbt build` it here."""

    base_cmd: ClassVar[list[str]] = ["build"]

    @property
    def _resource_label(self) -> str:
        return "Model"

    def resume(self, context: Any, event: dict[str, Any]) -> None:
        """Where the task continues on a worker after its trigger (StartTriggerArgs.next_method)."""
        if failed := event.get("parents_failed"):
            raise _not_rebuilt(self.model_unique_id, failed)
        if event.get("rerun"):
            self._fallback_to_non_watcher_run(context["ti"].try_number, context)
        else:
            self.execute_complete(context, event)

    def poke(self, context: Any) -> bool:
        """The worker path (dag.test()): a retry waits for its dbt parents' tasks, as the trigger does."""
        ti = context["ti"]
        if ti.try_number > 1:
            parents = sorted(self.upstream_task_ids)
            states = _read_run_states(ti.dag_id, ti.run_id, 0)
            verdict = rebuild_verdict(states, self.producer_task_id, parents)
            if verdict is None:
                return False
            if verdict is not True:
                raise _not_rebuilt(self.model_unique_id, verdict)
        return super().poke(context)  # type: ignore[misc]

    def _fallback_to_non_watcher_run(self, try_number: int, context: Any) -> bool:
        model = DbtNode.get_resource_name_from_unique_id(self.model_unique_id)
        self.log.info("Try %s: running `dbt build --select %s` in this task", try_number, model)
        # "buildable": the model's tests whose other parents are its ancestors, not a relationships test
        # declared by a child model that may not be built yet (dbt's default, "eager", would run it).
        self.build_and_run_cmd(context, cmd_flags=["--select", model, "--indirect-selection", "buildable"])
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
            # Only where the task runs on a worker from its start (dag.test()): poke, and give the slot
            # back between pokes, so it can never wait for a producer that has not started.
            deferrable=False,
            mode="reschedule",
            **task_args,
        )

    return model_task


def follow_the_build(watcher: _WatchModel) -> None:
    """Make the model's task follow the one `dbt build` from the run's start, in the triggerer.

    The task starts with the run (trigger rule "always": dbt, not Airflow, orders the models within the
    build; the edges between model tasks stay for the graph and for "Clear downstream", and a retry waits
    for its parents' tasks) and each try starts in the triggerer (`ModelReportTrigger`): no worker
    process for a model dbt built, one for a model that failed or that a retry rebuilds.
    Call it once Cosmos has set the watcher's `producer_task_id` (after the task group is built).
    """
    watcher.trigger_rule = TriggerRule.ALWAYS
    watcher.start_from_trigger = True
    watcher.start_trigger_args = StartTriggerArgs(
        trigger_cls=f"{__name__}.{ModelReportTrigger.__name__}",
        trigger_kwargs={
            "model_unique_id": watcher.model_unique_id,
            "producer_task_id": watcher.producer_task_id,
            "dag_id": watcher.dag_id,
            "run_id": "",  # the trigger reads its run from its task instance
            "map_index": -1,
            "poke_interval": TRIGGER_POKE_SECONDS,
            "is_test_sensor": watcher.is_test_sensor,
            "upstream_task_ids": sorted(watcher.upstream_task_ids),
            "report_interval": REPORT_SECONDS,
        },
        next_method=watcher.resume.__name__,
        next_kwargs=None,
        timeout=None,
    )


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
