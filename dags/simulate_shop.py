"""The `simulate_shop` DAG: a simulated shop for local runs (see the DAG's docstring).

Defined only when SHOPFLOW_SIMULATE_SOURCES is true: in production the shop and the clickstream
are live systems and this DAG does not exist.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from _common import DAG_FAILURE_CALLBACK, DAILY, DEFAULT_ARGS, START_DATE, run_deadline, run_partition_date
from shopflow.config import SimulationSettings
from shopflow.orchestration import steps


@dag(
    dag_id="simulate_shop",
    schedule=DAILY,
    start_date=START_DATE,
    catchup=True,
    # The simulator advances one day after the other and refuses gaps.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=DAG_FAILURE_CALLBACK,
    deadline=run_deadline(timedelta(hours=1), "the simulated shop day written within 1 h of the run being queued"),
    tags=["shopflow", "simulation", "local-only"],
)
def simulate_shop():
    """
    ### Local stand-in for a live shop: simulate one day of the shop and its clickstream

    Locally there is no shop generating orders, so this DAG plays the shop. Each run writes its
    day (the data interval's start, UTC) with the deterministic simulator: that day's customers,
    orders, order lines and status changes into the `shop` database, and its 24 hourly
    clickstream objects into the lake's landing zone. A day simulated before is left as it is, so
    re-runs change nothing; a gap after the last simulated day is refused.

    * **simulate_day** writes the day. `ingest_shop` and `ingest_clickstream` wait for it with
      their sensors, exactly as they wait for a live shop's day to close. In a catchup the shop
      runs ahead of the extracts, as a live shop does while Airflow is down: the extracts are
      built for that (docs/pipeline.md, "Late runs and backfills").

    Scale and seed come from `SHOPFLOW_SIMULATION_SCALE` (default 1: about 5,000 orders a year)
    and `SHOPFLOW_SIMULATION_SEED` (default 42); they cannot change once a shop database has data.
    The DAG only exists when `SHOPFLOW_SIMULATE_SOURCES=true` (set by `shopflow airflow up`): in
    production it is absent.
    """

    @task
    def simulate_day() -> dict:
        return steps.simulate_day(run_partition_date())

    simulate_day()


if SimulationSettings.from_env().enabled:
    simulate_shop()
