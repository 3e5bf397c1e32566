"""The `ingest_fakestore` DAG: the daily FakeStore catalog snapshot (see the DAG's docstring)."""

from __future__ import annotations

from airflow.sdk import dag

from _common import (
    DAG_FAILURE_CALLBACK,
    DAILY,
    DEFAULT_ARGS,
    INGESTION_DEADLINE,
    REEXTRACT_PARAMS,
    START_DATE,
    ingest_entity,
    run_deadline,
)


@dag(
    dag_id="ingest_fakestore",
    schedule=DAILY,
    start_date=START_DATE,
    catchup=True,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=DAG_FAILURE_CALLBACK,
    deadline=run_deadline(
        INGESTION_DEADLINE,
        "the day's catalog snapshot loaded into raw.fakestore_products within 6 h of the run being queued",
    ),
    params=REEXTRACT_PARAMS,
    tags=["shopflow", "ingestion", "fakestore"],
)
def ingest_fakestore():
    """
    ### Daily snapshot of the FakeStore product catalog into `raw.fakestore_products`

    For each day (the run's data interval, midnight to midnight UTC):

    1. **extract_products** reads the catalog API into `raw/fakestore/products/dt=<day>/` in the lake;
    2. **gate_products** validates the partition with its Great Expectations suite; a failure
       quarantines it and fails the run at once (retrying cannot fix data);
    3. **load_products** loads exactly the validated batch into the warehouse and updates the
       asset `warehouse://raw/fakestore_products`.

    `transform` runs once every raw table has been updated. The shop's order lines and the
    clickstream are checked against the products loaded here: their DAGs wait for this load of
    the same day (`wait_for_products`).

    The API has no history: a backfill of days never extracted stores today's catalog under each
    of them. A re-run keeps the day's sealed snapshot; trigger with `{"reextract": true}` to read
    the API again.
    """
    ingest_entity("fakestore.products")


ingest_fakestore()
