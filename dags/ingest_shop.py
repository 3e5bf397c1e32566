"""The `ingest_shop` DAG: the shop database's daily changes (see the DAG's docstring)."""

from __future__ import annotations

from airflow.sdk import dag

from _common import (
    DAILY,
    DEFAULT_ARGS,
    REEXTRACT_PARAMS,
    START_DATE,
    ingest_entity,
    wait_for_partition,
    wait_for_shop_day,
)


@dag(
    dag_id="ingest_shop",
    schedule=DAILY,
    start_date=START_DATE,
    catchup=True,
    # One day at a time, oldest first: the first extract of each table takes its whole history,
    # later ones only the rows changed that day.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=REEXTRACT_PARAMS,
    tags=["shopflow", "ingestion", "shop"],
)
def ingest_shop():
    """
    ### Daily changes of the shop database into `raw.shop_customers`, `raw.shop_orders`, `raw.shop_order_items`

    For each day (the run's data interval, midnight to midnight UTC):

    * **wait_for_shop_day** (sensor, reschedule mode) waits until the day is closed: with
      `SHOPFLOW_SIMULATE_SOURCES=true` until `simulate_shop` has written it, otherwise until the
      wall clock is past the interval's end;
    * per table, **extract_<table>** copies the rows whose `updated_at` falls in the day (the very
      first extract of a table takes all history before the day's end) into the lake,
      **gate_<table>** validates the partition (failure: quarantine, the run fails without
      retries), **load_<table>** loads exactly the validated batch and updates the asset
      `warehouse://raw/shop_<table>`;
    * order lines are validated against the orders and products already loaded, so
      **gate_order_items** runs after **load_orders** and after **wait_for_products** (the
      FakeStore snapshot of the same day, loaded by `ingest_fakestore`).

    A re-run keeps the day's sealed lake partitions (the shop cannot reproduce a past day: rows
    changed later have left it) and gates and loads them again; trigger with
    `{"reextract": true}` to read the shop again after correcting it.

    Each gate waits for the previous day's gate and load of its table (`depends_on_past` with
    `wait_for_downstream`): order lines are checked against the orders loaded up to their day, so
    days load in date order even in a backfill with several active runs. Backfills of this DAG
    therefore need `--reprocess-behavior failed` (or `completed`), as Airflow requires with
    `depends_on_past`.
    """
    ready = wait_for_shop_day()
    products = wait_for_partition("fakestore.products")
    tasks = {
        name: ingest_entity(name, load_in_date_order=True)
        for name in ("shop.customers", "shop.orders", "shop.order_items")
    }
    for extract, _gate, _load in tasks.values():
        ready >> extract
    _, gate_items, _ = tasks["shop.order_items"]
    [tasks["shop.orders"][2], products] >> gate_items


ingest_shop()
