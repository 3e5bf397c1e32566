"""Loading lake partitions into the warehouse: idempotency, the quality gate, quarantine, atomicity."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from datetime import date

import psycopg2
import pytest

from shopflow.contracts import CUSTOMERS, EVENTS, LOAD_ORDER, ORDER_ITEMS, get_entity
from shopflow.extract import rows_to_csv, write_partition
from shopflow.lake import VALIDATION_FILE, partition_prefix
from shopflow.pipeline import Pipeline, open_lake
from shopflow.quality.gate import QualityGateError
from shopflow.warehouse.loader import LoadError, gate_partition, load_partition
from tests.pipeline_helpers import query, simulate, table_checksum

D1, D2, D3 = date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 3)


@pytest.fixture(scope="module")
def shop(isolated_settings):
    settings = isolated_settings("load")
    lake = open_lake(settings)
    # As in production, each day is extracted right after it closes (updated_at-based extraction).
    for dt in (D1, D2):
        simulate(settings, dt, dt)
        for name in LOAD_ORDER:
            Pipeline(settings, lake).extract(name, dt)
    for name in LOAD_ORDER:
        Pipeline(settings, lake).load(name, D1)
    return settings


def _partition_rows(lake, entity, dt) -> list[dict]:
    return list(csv.DictReader(io.StringIO(lake.read_partition(entity, dt).csv_bytes.decode())))


def _write_rows(lake, entity, dt, rows: list[dict]) -> None:
    """Put crafted rows in the lake as a well-formed partition (valid manifest), as a buggy source would."""
    body = rows_to_csv(entity.column_names, [[r[c] for c in entity.column_names] for r in rows])
    write_partition(lake, entity, dt, body, len(rows), None)


def _ledger(shop, entity, dt) -> list[tuple]:
    return query(
        shop.warehouse_dsn,
        "select status, row_count from ops.load_ledger where entity = %s and dt = %s order by finished_at",
        (entity.qualified_name, dt),
    )


def test_loaded_partitions_match_their_manifests_and_are_ledgered(shop):
    lake = open_lake(shop)
    for name in LOAD_ORDER:
        entity = get_entity(name)
        manifest = lake.read_partition(entity, D1).manifest
        assert table_checksum(shop.warehouse_dsn, f"raw.{entity.table}", D1)[0] == manifest.row_count
        assert _ledger(shop, entity, D1)[-1] == ("loaded", manifest.row_count)
    recorded = query(
        shop.warehouse_dsn, "select count(*), bool_and(success) from ops.validation_results where dt = %s", (D1,)
    )
    assert recorded == [(5, True)]


def test_loading_the_same_date_twice_gives_identical_tables(shop):
    lake = open_lake(shop)
    before = {n: table_checksum(shop.warehouse_dsn, f"raw.{get_entity(n).table}") for n in LOAD_ORDER}
    batches = query(shop.warehouse_dsn, "select batch_id from ops.load_ledger order by batch_id")
    for name in LOAD_ORDER:
        Pipeline(shop, lake).extract(name, D1)
        Pipeline(shop, lake).load(name, D1)
    after = {n: table_checksum(shop.warehouse_dsn, f"raw.{get_entity(n).table}") for n in LOAD_ORDER}
    assert after == before
    assert query(shop.warehouse_dsn, "select batch_id from ops.load_ledger order by batch_id") == batches


BAD_BATCHES = {
    "duplicate-event-id": (EVENTS, lambda rows: [*rows, dict(rows[0])], "expect_column_values_to_be_unique"),
    "null-key": (CUSTOMERS, lambda rows: [{**rows[0], "customer_id": ""}, *rows[1:]], "customer_id"),
    "negative-quantity": (ORDER_ITEMS, lambda rows: [{**rows[0], "quantity": "-2"}, *rows[1:]], "quantity"),
    "negative-price": (ORDER_ITEMS, lambda rows: [{**rows[0], "unit_price": "-5.00"}, *rows[1:]], "unit_price"),
    "unknown-product": (ORDER_ITEMS, lambda rows: [{**rows[0], "product_id": "999"}, *rows[1:]], "product_id"),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_bad_batch_is_quarantined_and_nothing_of_it_is_loaded(shop, case):
    entity, corrupt, named = BAD_BATCHES[case]
    lake = open_lake(shop)
    for name in LOAD_ORDER[: LOAD_ORDER.index(entity.qualified_name)]:  # what the batch may reference
        Pipeline(shop, lake).load(name, D2)
    Pipeline(shop, lake).extract(entity.qualified_name, D2)
    good_rows = _partition_rows(lake, entity, D2)
    warehouse_before = table_checksum(shop.warehouse_dsn, f"raw.{entity.table}")
    _write_rows(lake, entity, D2, corrupt(good_rows))

    with pytest.raises(QualityGateError) as err:
        Pipeline(shop, lake).load(entity.qualified_name, D2)
    message = str(err.value)
    assert f"dt={D2}" in message and named in message
    assert table_checksum(shop.warehouse_dsn, f"raw.{entity.table}") == warehouse_before
    quarantine = lake.list_keys(partition_prefix(entity, D2, zone="quarantine"))
    assert {k.rsplit("/", 1)[1] for k in quarantine} == {"part-00000.csv.gz", "_manifest.json", VALIDATION_FILE}
    assert _ledger(shop, entity, D2)[-1][0] == "rejected"

    # fixing the data (re-extracting from the source) and re-running the date loads it; a rejected
    # partition is not sealed, so a plain re-run re-extracts it
    assert not Pipeline(shop, lake).extract(entity.qualified_name, D2).reused
    result = Pipeline(shop, lake).load(entity.qualified_name, D2)
    assert result.row_count == len(good_rows)
    assert _ledger(shop, entity, D2)[-1] == ("loaded", len(good_rows))
    assert lake.list_keys(partition_prefix(entity, D2, zone="quarantine")) == []


def test_separate_validate_and_load_refuse_a_partition_changed_in_between(shop):
    lake = open_lake(shop)
    Pipeline(shop, lake).extract("shop.customers", D2)
    gated = gate_partition(lake, shop.warehouse_dsn, CUSTOMERS, D2)
    assert not gated.loaded and gated.expectations_evaluated > 0
    assert query(
        shop.warehouse_dsn, "select success from ops.validation_results where batch_id = %s", (gated.batch_id,)
    ) == [(True,)]
    _write_rows(lake, CUSTOMERS, D2, _partition_rows(lake, CUSTOMERS, D2)[:-1])
    with pytest.raises(LoadError, match="changed since it was validated"):
        load_partition(lake, shop.warehouse_dsn, CUSTOMERS, D2, expected_batch_id=gated.batch_id)
    Pipeline(shop, lake).extract("shop.customers", D2, force=True)
    result = load_partition(lake, shop.warehouse_dsn, CUSTOMERS, D2, expected_batch_id=gated.batch_id)
    assert result.loaded and result.expectations_evaluated == gated.expectations_evaluated
    assert result.evaluated_by == "set-based SQL"


def test_a_load_failure_after_a_passing_gate_rolls_back_and_is_ledgered(shop):
    lake = open_lake(shop)
    before = table_checksum(shop.warehouse_dsn, f"raw.{EVENTS.table}", D2)
    rows = _partition_rows(lake, EVENTS, D2)
    taken = query(shop.warehouse_dsn, "select event_id from raw.clickstream_events where dt = %s limit 1", (D1,))[0][0]
    # Unique within the batch (the gate passes) but an event of another day (the key is event_id alone).
    _write_rows(lake, EVENTS, D2, [*rows[:-1], {**rows[-1], "event_id": taken}])
    try:
        with pytest.raises(LoadError, match=r"insert into raw.clickstream_events failed, nothing was loaded"):
            load_partition(lake, shop.warehouse_dsn, EVENTS, D2)
        assert table_checksum(shop.warehouse_dsn, f"raw.{EVENTS.table}", D2) == before
        assert _ledger(shop, EVENTS, D2)[-1][0] == "failed"
    finally:
        Pipeline(shop, lake).extract("clickstream.events", D2, force=True)


def test_an_unreadable_partition_is_rejected_by_gx_and_quarantined(shop):
    lake = open_lake(shop)
    rows = _partition_rows(lake, ORDER_ITEMS, D1)
    _write_rows(lake, ORDER_ITEMS, D1, [*rows[:-1], {**rows[-1], "quantity": "many"}])
    try:
        with pytest.raises(QualityGateError) as err:
            load_partition(lake, shop.warehouse_dsn, ORDER_ITEMS, D1)
        assert "quantity='many'" in str(err.value) and "line=" in str(err.value)
        evaluated_by = query(
            shop.warehouse_dsn,
            "select result->'meta'->'shopflow'->>'evaluated_by' from ops.validation_results "
            "where entity = 'shop.order_items' and not success",
        )
        assert ("great_expectations",) in evaluated_by
    finally:
        Pipeline(shop, lake).extract("shop.order_items", D1, force=True)
        Pipeline(shop, lake).load("shop.order_items", D1)


LOADER_SCRIPT = """
import sys
from datetime import date
from shopflow.contracts import EVENTS
from shopflow.lake import Lake
from shopflow.services.s3 import s3_client
from shopflow.config import load_settings
from shopflow.warehouse.loader import load_partition
settings = load_settings().replace(lake_bucket=sys.argv[2])
load_partition(Lake(s3_client(settings), sys.argv[2]), sys.argv[1], EVENTS, date.fromisoformat(sys.argv[3]))
"""


@pytest.mark.slow
def test_load_killed_midway_leaves_the_previous_state_intact(shop):
    lake = open_lake(shop)
    before = table_checksum(shop.warehouse_dsn, "raw.clickstream_events", D1)
    assert before[0] > 0
    template = _partition_rows(lake, EVENTS, D1)[0]
    # A batch the gate passes: page views round the clock, half of them anonymous.
    rows = [
        {
            **template,
            "event_id": f"00000000-0000-4000-8000-{i:012d}",
            "event_type": "page_view",
            "product_id": "",
            "order_id": "",
            "customer_id": "" if i % 2 else "1",
            "event_time": f"{D1}T{i % 24:02d}:30:00+00:00",
        }
        for i in range(200_000)
    ]
    _write_rows(lake, EVENTS, D1, rows)
    # An uncommitted row with an id from the middle of the batch makes the insert wait there, half done.
    blocker = psycopg2.connect(shop.warehouse_dsn)
    with blocker.cursor() as cur:
        others = ", ".join(c for c in EVENTS.column_names if c not in ("event_id", "dt"))
        cur.execute(
            f"insert into raw.clickstream_events (event_id, {others}, dt) "
            f"select '00000000-0000-4000-8000-000000100000', {others}, '2030-01-01' from raw.clickstream_events where dt = %s limit 1",
            (D1,),
        )
    loader = subprocess.Popen(
        [sys.executable, "-c", LOADER_SCRIPT, shop.warehouse_dsn, shop.lake_bucket, D1.isoformat()],
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            waiting = query(
                shop.warehouse_dsn,
                "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'insert%%'",
            )[0][0]
            if waiting:
                break
            assert loader.poll() is None, "the loader finished before it could be interrupted"
            time.sleep(0.1)
        else:
            pytest.fail("the insert never reached the blocked row")
        loader.send_signal(signal.SIGKILL)
        loader.wait(10)
    finally:
        blocker.rollback()
        blocker.close()
    time.sleep(0.5)  # the server notices the dead client and rolls its transaction back
    assert table_checksum(shop.warehouse_dsn, "raw.clickstream_events", D1) == before
    assert (
        query(
            shop.warehouse_dsn,
            "select count(*) from raw.clickstream_events where event_id like '00000000-0000-4000-8000-%%'",
        )[0][0]
        == 0
    )
    Pipeline(shop, lake).extract("clickstream.events", D1, force=True)
