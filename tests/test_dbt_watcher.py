"""The transform DAG's model trigger (dags/_dbt_watcher.py) on its own: what each try yields, and when.

Under the scheduler a model task's tries start in the triggerer. The trigger is run here with the run's
task states and the producer's report stubbed (the reads go to Airflow's API server otherwise); the DAG
runs through the scheduler in benchmarks/bench_transform.py and through `dag.test()` in
tests/test_airflow_e2e.py.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dags"))

from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import TaskSuccessEvent, TriggerEvent

import _dbt_watcher as watcher

PRODUCER = "dbt.dbt_producer_watcher"
PARENT = "dbt.stg_shop__orders_model_build"


def _trigger(
    try_number: int, reports: list, states: list[dict], report_interval: float = 0
) -> watcher.ModelReportTrigger:
    """A trigger for `int_orders_latest` whose reads return `reports` and `states` in turn (the last repeats)."""
    trigger = watcher.ModelReportTrigger(
        model_unique_id="model.shopflow.int_orders_latest",
        producer_task_id=PRODUCER,
        dag_id="transform",
        run_id="",
        map_index=-1,
        poke_interval=0,
        is_test_sensor=True,
        upstream_task_ids=[PARENT],
        report_interval=report_interval,
    )
    trigger.task_instance = SimpleNamespace(
        task_id="dbt.int_orders_latest_model_build",
        dag_id="transform",
        run_id="r1",
        map_index=-1,
        try_number=try_number,
    )
    trigger.reads = {"reports": 0, "states": 0}

    async def verdict():
        trigger.reads["reports"] += 1
        return reports[min(trigger.reads["reports"], len(reports)) - 1]

    async def read_states():
        trigger.reads["states"] += 1
        return states[min(trigger.reads["states"], len(states)) - 1]

    trigger._verdict, trigger._states = verdict, read_states
    return trigger


def _events(trigger: watcher.ModelReportTrigger) -> list:
    async def collect():
        return [event async for event in trigger.run()]

    return asyncio.run(asyncio.wait_for(collect(), 10))


def test_a_model_built_and_tested_ends_its_task_in_the_triggerer():
    running = {PRODUCER: "running", PARENT: "deferred"}
    trigger = _trigger(1, reports=[None, None, "pass"], states=[running])
    [event] = _events(trigger)
    assert isinstance(event, TaskSuccessEvent)
    assert trigger.run_id == "r1"  # the run comes from the task instance, not from the DAG file
    # Polled until dbt reported it, whatever its parent's task: dbt orders the models, not Airflow.
    assert trigger.reads == {"reports": 3, "states": 3}


def test_between_report_reads_the_trigger_only_watches_for_the_producer_to_end():
    running = {PRODUCER: "running"}
    # The producer failed (another model did): the verdict is read once, when it ended, not at each check.
    trigger = _trigger(1, reports=["pass"], states=[running] * 5 + [{PRODUCER: "failed"}], report_interval=3600)
    [event] = _events(trigger)
    assert isinstance(event, TaskSuccessEvent)
    assert trigger.reads == {"reports": 1, "states": 6}
    # The producer succeeded: dbt build exited 0, so every model was built and tested; nothing more to read.
    trigger = _trigger(1, reports=[None], states=[running] * 2 + [{PRODUCER: "success"}], report_interval=3600)
    [event] = _events(trigger)
    assert isinstance(event, TaskSuccessEvent)
    assert trigger.reads == {"reports": 0, "states": 3}


def test_any_other_outcome_resumes_the_task_on_a_worker_with_cosmos_event(monkeypatch):
    failed = TriggerEvent({"status": "failed", "reason": "node_failed"})

    async def cosmos_run(self):
        yield failed

    monkeypatch.setattr(watcher.WatcherTrigger, "run", cosmos_run)
    settled = {PRODUCER: "running", PARENT: "success"}
    assert _events(_trigger(1, reports=["fail"], states=[settled])) == [failed]
    # The producer ended without a report for the model: Cosmos' trigger decides, too.
    ended = {PRODUCER: "failed", PARENT: "success"}
    assert _events(_trigger(1, reports=[None], states=[ended])) == [failed]


def test_a_retry_rebuilds_once_the_producer_and_the_parents_are_done():
    states = [
        {PRODUCER: "running", PARENT: "success"},
        {PRODUCER: "success", PARENT: "up_for_retry"},
        {PRODUCER: "success", PARENT: "success"},
    ]
    trigger = _trigger(2, reports=["pass"], states=states)
    [event] = _events(trigger)
    assert type(event) is TriggerEvent and event.payload == {"rerun": True}
    assert trigger.reads == {"reports": 0, "states": 3}  # the old report is not read on a retry


def test_a_retry_whose_parent_failed_resumes_to_fail_naming_it():
    trigger = _trigger(3, reports=[None], states=[{PRODUCER: "skipped", PARENT: "failed"}])
    [event] = _events(trigger)
    assert event.payload == {"parents_failed": [PARENT]}


def test_rebuild_verdict():
    verdict = watcher.rebuild_verdict
    assert verdict({PRODUCER: "running"}, PRODUCER, []) is None
    assert verdict({PRODUCER: "success"}, PRODUCER, []) is True
    assert verdict({PRODUCER: "skipped", PARENT: "running"}, PRODUCER, [PARENT]) is None
    assert verdict({PRODUCER: "failed", PARENT: None}, PRODUCER, [PARENT]) is None
    assert verdict({PRODUCER: "success", PARENT: "upstream_failed"}, PRODUCER, [PARENT]) == [PARENT]


def test_the_trigger_serializes_to_its_own_class_and_arguments():
    trigger = _trigger(1, reports=[None], states=[{}])
    classpath, kwargs = trigger.serialize()
    assert classpath == "_dbt_watcher.ModelReportTrigger"
    assert kwargs["upstream_task_ids"] == [PARENT] and kwargs["is_test_sensor"] is True
    assert watcher.ModelReportTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_resume_fails_naming_the_parents_or_rebuilds_the_model():
    rebuilt = []
    task = SimpleNamespace(
        model_unique_id="model.shopflow.int_orders_latest",
        _fallback_to_non_watcher_run=lambda try_number, context: rebuilt.append(try_number),
        execute_complete=lambda context, event: rebuilt.append(event),
    )
    context = {"ti": SimpleNamespace(try_number=2)}
    with pytest.raises(AirflowException, match=r"int_orders_latest not rebuilt: .*stg_shop__orders_model_build"):
        watcher._WatchModel.resume(task, context, {"parents_failed": [PARENT]})
    watcher._WatchModel.resume(task, context, {"rerun": True})
    watcher._WatchModel.resume(task, context, {"status": "failed"})
    assert rebuilt == [2, {"status": "failed"}]


def test_a_rebuild_runs_the_model_with_the_tests_its_ancestors_allow():
    calls = []
    task = SimpleNamespace(
        model_unique_id="model.shopflow.dim_products",
        log=SimpleNamespace(info=lambda *args: None),
        build_and_run_cmd=lambda context, cmd_flags: calls.append(cmd_flags),
    )
    assert watcher._WatchModel._fallback_to_non_watcher_run(task, 2, {}) is True
    # Not a relationships test declared by a child (fact_orders -> dim_products): it may not be built yet.
    assert calls == [["--select", "dim_products", "--indirect-selection", "buildable"]]
