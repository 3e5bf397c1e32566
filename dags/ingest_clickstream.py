"""The `ingest_clickstream` DAG: the day's web events from the landing zone (see the DAG's docstring)."""

from __future__ import annotations

from airflow.sdk import dag

from _common import (
    DAG_FAILURE_CALLBACK,
    DAILY,
    DEFAULT_ARGS,
    INGESTION_DEADLINE,
    START_DATE,
    ingest_entity,
    run_deadline,
    wait_for_clickstream_day,
    wait_for_partition,
)


@dag(
    dag_id="ingest_clickstream",
    schedule=DAILY,
    start_date=START_DATE,
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=DAG_FAILURE_CALLBACK,
    deadline=run_deadline(
        INGESTION_DEADLINE,
        "the day's clickstream loaded into raw.clickstream_events within 6 h of the run being queued",
    ),
    tags=["shopflow", "ingestion", "clickstream"],
)
def ingest_clickstream():
    """
    ### Daily clickstream events into `raw.clickstream_events`

    The delivery service lands one gzipped JSON-lines object per hour under
    `landing/clickstream/events/dt=<day>/hour=<hh>/`. For each day (the run's data interval, UTC):

    * **wait_for_clickstream_day** (sensor, reschedule mode) waits until all 24 hourly objects
      have landed;
    * **extract_events** checks and promotes them into `raw/clickstream/events/dt=<day>/`;
    * **gate_events** validates the partition (failure: quarantine, the run fails without
      retries); it checks product ids against the catalog, so it also waits for
      **wait_for_products** (the same day's FakeStore snapshot, loaded by `ingest_fakestore`);
    * **load_events** loads exactly the validated batch and updates the asset
      `warehouse://raw/clickstream_events`.
    """
    ready = wait_for_clickstream_day()
    products = wait_for_partition("fakestore.products")
    extract, gate, _load = ingest_entity("clickstream.events")
    ready >> extract
    products >> gate


ingest_clickstream()
