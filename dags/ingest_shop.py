"""The `ingest_shop` DAG: the shop database's daily changes (see the DAG's docstring)."""

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
    wait_for_partition,
    wait_for_shop_day,
)


@dag(
    dag_id="ingest_shop",
    schedule=DAILY,
    start_date=START_DATE,
    catchup=True,
    # One day at a time, oldest first, for scheduled runs and catchup: the first extract of a table
    # takes its whole history, later ones only what changed that day. Days do not depend on each
    # other (a day's lines travel with their order), so a backfill may run several at once.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=DAG_FAILURE_CALLBACK,
    deadline=run_deadline(
        INGESTION_DEADLINE, "the day's shop changes loaded into raw.shop_* within 6 h of the run being queued"
    ),
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
    * per table, **extract_<table>** copies what changed in the day into the lake: customers
      whose `updated_at` falls in it; every order whose row or any of whose lines changed in it,
      with all of its lines, unless it changed again after the day (then its later day carries
      it). The very first extract of a table takes all history before the day's end;
      **gate_<table>** validates the partition (failure: quarantine, the run fails without
      retries), **load_<table>** loads exactly the validated batch and updates the asset
      `warehouse://raw/shop_<table>`;
    * order lines are validated against the orders and products already loaded, so
      **gate_order_items** runs after **load_orders** and after **wait_for_products** (the
      FakeStore snapshot of the same day, loaded by `ingest_fakestore`).

    A re-run keeps the day's sealed lake partitions (the shop cannot reproduce a past day: rows
    changed later have left it) and gates and loads them again; trigger with
    `{"reextract": true}` to read the shop again after correcting it.

    Days are independent: a day's order lines only reference that day's orders, whenever the day
    is extracted (on time, late, in a backfill, in any order), so a backfill over a past range,
    even one overlapping days already loaded, needs no date order. `--reprocess-behavior none`
    skips days that already ran, `failed` re-runs the failed ones, `completed` re-runs all of them:
    each is idempotent (sealed partitions are kept, loads replace their partition).
    """
    ready = wait_for_shop_day()
    products = wait_for_partition("fakestore.products")
    tasks = {name: ingest_entity(name) for name in ("shop.customers", "shop.orders", "shop.order_items")}
    for extract, _gate, _load in tasks.values():
        ready >> extract
    _, gate_items, _ = tasks["shop.order_items"]
    [tasks["shop.orders"][2], products] >> gate_items


ingest_shop()
