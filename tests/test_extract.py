"""Extraction into the lake: layout, manifests, incremental shop extracts, clickstream promotion, bad input."""

from __future__ import annotations

import gzip
import json
from datetime import date

import pytest

from shopflow.contracts import CUSTOMERS, EVENTS, ORDERS, PRODUCTS
from shopflow.extract import ExtractError
from shopflow.extract.clickstream import extract_clickstream
from shopflow.extract.products import extract_products
from shopflow.extract.shop_tables import extract_shop_table
from shopflow.lake import MANIFEST_FILE, LakeError, landing_key, partition_prefix
from shopflow.pipeline import open_lake
from shopflow.sources import SourceError
from tests.pipeline_helpers import gzip_lines, query, read_csv_rows, simulate

D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


@pytest.fixture(scope="module")
def shop(isolated_settings):
    settings = isolated_settings("extract")
    simulate(settings, D1, D3)
    return settings


def test_products_snapshot_has_the_contract_columns_and_is_byte_stable(shop):
    lake = open_lake(shop)
    first = extract_products(lake, shop.fakestore_api_url, D1)
    assert first.row_count == 20
    rows = read_csv_rows(lake, first.key)
    assert list(rows[0]) == PRODUCTS.column_names
    assert rows[0]["product_id"] == "1" and rows[0]["rating_rate"] == "3.9" and rows[0]["rating_count"] == "120"
    assert rows[1]["title"].endswith(" "), "titles are kept exactly as the API returns them (product 2)"
    before = lake.get(first.key)
    assert extract_products(lake, shop.fakestore_api_url, D1).reused
    assert not extract_products(lake, shop.fakestore_api_url, D1, force=True).reused
    assert lake.get(first.key) == before
    assert lake.list_keys(partition_prefix(PRODUCTS, D1)) == sorted(
        [first.key, partition_prefix(PRODUCTS, D1) + MANIFEST_FILE]
    )


def test_api_down_writes_nothing(shop):
    lake = open_lake(shop)
    with pytest.raises(SourceError, match=r"127\.0\.0\.1:9"):
        extract_products(lake, "http://127.0.0.1:9", date(2025, 3, 9))
    assert lake.list_keys(partition_prefix(PRODUCTS, date(2025, 3, 9))) == []


def test_first_shop_extract_takes_history_then_only_the_days_changes(shop):
    lake = open_lake(shop)
    first = extract_shop_table(lake, shop.shop_dsn, ORDERS, D1)
    assert first.full_history
    second = extract_shop_table(lake, shop.shop_dsn, ORDERS, D2)
    assert not second.full_history
    expected = query(shop.shop_dsn, "select count(*) from orders where updated_at >= %s and updated_at < %s", (D2, D3))[
        0
    ][0]
    assert second.row_count == expected > 0
    rows = read_csv_rows(lake, second.key)
    assert all(r["updated_at"].startswith("2025-03-02") and r["dt"] == "2025-03-02" for r in rows)
    # an order placed on D1 whose status moved on D2 is extracted again, with its new status
    moved = [r for r in rows if r["ordered_at"].startswith("2025-03-01")]
    assert moved and all(r["status"] != "placed" for r in moved)
    manifest = json.loads(lake.get(partition_prefix(ORDERS, D2) + MANIFEST_FILE))
    assert manifest["row_count"] == second.row_count and manifest["watermark"].startswith("2025-03-02")
    # re-running D1 keeps the sealed partition: re-reading a mutable source cannot reproduce a past day
    again = extract_shop_table(lake, shop.shop_dsn, ORDERS, D1)
    assert again.reused and again.row_count == first.row_count and again.full_history
    assert extract_shop_table(lake, shop.shop_dsn, ORDERS, D1, force=True).full_history
    assert not lake.has_partition_before(ORDERS, D1) and lake.has_partition_before(ORDERS, D3)
    half_written = partition_prefix(ORDERS, date(2025, 2, 1)) + "data.csv.gz"  # no manifest: not a partition
    lake.put(half_written, b"half-written")
    assert not lake.has_partition_before(ORDERS, D1)
    lake.delete_keys([half_written])
    customers = extract_shop_table(lake, shop.shop_dsn, CUSTOMERS, D1)
    assert (
        customers.row_count == query(shop.shop_dsn, "select count(*) from customers where updated_at < %s", (D2,))[0][0]
    )


def test_clickstream_promotes_all_landed_events(shop):
    lake = open_lake(shop)
    landed = sum(len(gzip.decompress(lake.get(landing_key(D2, h))).splitlines()) for h in range(24))
    result = extract_clickstream(lake, D2)
    assert result.row_count == landed > 0
    rows = read_csv_rows(lake, result.key)
    assert list(rows[0]) == EVENTS.column_names
    orders_placed = query(
        shop.shop_dsn, "select count(*) from orders where ordered_at >= %s and ordered_at < %s", (D2, D3)
    )[0][0]
    assert sum(r["event_type"] == "purchase" for r in rows) == orders_placed


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda body: body[: len(body) // 2], "is not a complete gzip file"),
        (lambda body: gzip_lines(['{"event_id": "x"', "{}"]), "line 1 is not valid JSON"),
        (lambda body: gzip_lines(['{"event_id": "e1", "session_id": "s"}']), "line 1 lacks visitor_id"),
    ],
    ids=["truncated-gzip", "bad-json-line", "missing-field"],
)
def test_damaged_landing_object_stops_promotion_naming_object_and_line(shop, damage, message):
    lake = open_lake(shop)
    key = landing_key(D3, 15)
    original = lake.get(key)
    raw_prefix = partition_prefix(EVENTS, D3)
    lake.delete_keys(lake.list_keys(raw_prefix))
    try:
        lake.put(key, damage(original))
        with pytest.raises(ExtractError) as err:
            extract_clickstream(lake, D3)
        assert message in str(err.value) and "hour=15" in str(err.value)
        assert lake.list_keys(raw_prefix) == [], "nothing of the day reaches the raw zone"
    finally:
        lake.put(key, original)


def test_missing_hour_is_reported(shop):
    lake = open_lake(shop)
    key = landing_key(D3, 4)
    original = lake.get(key)
    lake.delete_keys([key])
    try:
        with pytest.raises(ExtractError, match=r"hours \[4\] have no object"):
            extract_clickstream(lake, D3)
    finally:
        lake.put(key, original)


def test_tampered_partition_is_refused_by_its_manifest(shop):
    lake = open_lake(shop)
    result = extract_shop_table(lake, shop.shop_dsn, CUSTOMERS, D3)
    body = (
        gzip.decompress(lake.get(result.key))
        + b"999,x,y,z@example.com,,a,b,2025-03-03,bronze,2025-03-03,2025-03-03,2025-03-03\n"
    )
    lake.put(result.key, gzip.compress(body))
    with pytest.raises(LakeError, match="does not match its manifest"):
        lake.read_partition(CUSTOMERS, D3)
    extract_shop_table(lake, shop.shop_dsn, CUSTOMERS, D3)  # a damaged partition is not sealed: re-extracted
    assert lake.read_partition(CUSTOMERS, D3).manifest.row_count == result.row_count
