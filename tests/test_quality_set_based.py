"""The gate's set-based checks agree with GX: same verdict and same failing expectations, on clean batches
and on one defect per expectation kind; a clean batch's result is the document GX would have written."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date, timedelta

import psycopg2
import pytest

from shopflow.contracts import CUSTOMERS, ENTITIES, EVENTS, ORDER_ITEMS, ORDERS, PRODUCTS, Entity
from shopflow.quality import set_based
from shopflow.quality.frames import read_partition_frame
from shopflow.quality.gate import validate_partition
from shopflow.quality.suites import HOUR_COVERAGE_MIN_EVENTS, KnownInWarehouse, PartitionContext, build_suite_spec
from shopflow.warehouse.raw_schema import ensure_raw_schema
from tests.quality_samples import SAMPLE_PRODUCT_IDS, partition_csv, sample_rows

DT = date(2026, 1, 3)
KNOWN_ORDERS = 9_999
SIZES = {"fakestore.products": 20, "shop.customers": 40, "shop.orders": 40, "shop.order_items": 60}


@pytest.fixture(scope="module")
def warehouse(isolated_settings):
    """A warehouse whose raw tables know products 1-20 and orders 1-9,999 (as of the day before DT)."""
    settings = isolated_settings("setbased")
    conn = psycopg2.connect(settings.warehouse_dsn)
    ensure_raw_schema(conn)
    day_before = DT - timedelta(days=1)
    with conn.cursor() as cur:
        cur.execute(
            "insert into raw.fakestore_products (product_id, title, price, description, category, image, "
            "rating_rate, rating_count, dt) select i, 't', 1, 'd', 'electronics', 'https://x/i.png', 4, 1, %s "
            "from unnest(%s::int[]) as i",
            (day_before, sorted(SAMPLE_PRODUCT_IDS)),
        )
        cur.execute(
            "insert into raw.shop_orders (order_id, customer_id, ordered_at, status, payment_method, created_at, "
            "updated_at, dt) select i, 1, now(), 'paid', 'paypal', now(), now(), %s from generate_series(1, %s) i",
            (day_before, KNOWN_ORDERS),
        )
    conn.commit()
    yield conn
    conn.close()


def gx_context(entity: Entity, rows: int, **changes) -> PartitionContext:
    known = {"known_product_ids": SAMPLE_PRODUCT_IDS, "known_order_ids": frozenset(range(1, KNOWN_ORDERS + 1))}
    return PartitionContext(entity, DT, rows, **{**known, **changes})


def sql_context(entity: Entity, rows: int, **changes) -> PartitionContext:
    known = {
        "known_product_ids": KnownInWarehouse("fakestore_products", "product_id", DT),
        "known_order_ids": KnownInWarehouse("shop_orders", "order_id", DT),
    }
    return PartitionContext(entity, DT, rows, **{**known, **changes})


def both(conn, entity: Entity, rows: list[dict], manifest_rows: int | None = None, **changes):
    """(set-based verdict, or None when the typing or the query raised, GX outcome) for the same CSV and context."""
    csv_bytes = partition_csv(entity, rows, compress=False)
    count = len(rows) if manifest_rows is None else manifest_rows
    verdict = None
    with conn.cursor() as cur:
        set_based.prepare_transaction(cur)
        cur.execute(set_based.stage_ddl(entity))
        cur.copy_expert(
            f"copy {set_based.STAGE_TABLE} from stdin with (format csv, header true)", io.BytesIO(csv_bytes)
        )
        spec = build_suite_spec(sql_context(entity, count, **changes))
        # A typing or query that raises leaves the partition to GX (gate.gate_staged); verdict stays None.
        with contextlib.suppress(psycopg2.Error):
            cur.execute(set_based.typed_ddl(entity, DT))
            verdict = set_based.evaluate(cur, spec, entity, {})
    conn.rollback()
    outcome = validate_partition(gx_context(entity, count, **changes), read_partition_frame(entity, csv_bytes))
    return verdict, outcome


def _key(config: dict) -> str:
    return json.dumps(config, sort_keys=True, default=str)


def rows_of(name: str) -> list[dict]:
    return sample_rows(ENTITIES[name], DT, SIZES.get(name, HOUR_COVERAGE_MIN_EVENTS))


@pytest.mark.parametrize("name", list(ENTITIES))
def test_clean_batches_pass_with_the_configurations_gx_writes(warehouse, name):
    entity = ENTITIES[name]
    verdict, outcome = both(warehouse, entity, rows_of(name))
    assert outcome.success and verdict.success, verdict.failed
    ours = [r["expectation_config"] for r in verdict.result["results"]]
    theirs = [r["expectation_config"] for r in outcome.result["results"]]
    for config in theirs:
        config["kwargs"].pop("batch_id", None)
    assert sorted(ours, key=_key) == sorted(theirs, key=_key)
    assert verdict.result["statistics"] == outcome.result["statistics"]
    # Data Docs and the stores load the document with GX's own schema.
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema

    ExpectationSuiteValidationResultSchema().load(verdict.result)


def _set(rows, index, **values):
    rows[index] = {**rows[index], **values}
    return rows


# name -> (entity, mutate(rows) -> rows, manifest row count override or None)
DEFECTS = {
    "unparseable integer": (ORDER_ITEMS, lambda r: _set(r, 4, quantity="three")),
    "integer out of int4 range": (ORDER_ITEMS, lambda r: _set(r, 1, quantity="2147483648")),
    "decimal with too many digits": (ORDER_ITEMS, lambda r: _set(r, 2, unit_price="123456789.00")),
    "decimal in exponent form": (ORDER_ITEMS, lambda r: _set(r, 2, unit_price="1e3")),
    "impossible date in a timestamp": (ORDERS, lambda r: _set(r, 0, ordered_at="2026-02-30T10:00:00+00:00")),
    "hour 24": (ORDERS, lambda r: _set(r, 0, ordered_at="2026-01-03T24:00:00+00:00")),
    "bad partition date": (ORDERS, lambda r: _set(r, 0, dt="2026-13-01")),
    "other partition date": (ORDERS, lambda r: _set(r, 0, dt="2026-01-02")),
    "null key": (ORDERS, lambda r: _set(r, 2, order_id=None)),
    "blank name": (CUSTOMERS, lambda r: _set(r, 1, first_name="   ")),
    "duplicate key": (ORDERS, lambda r: _set(r, 5, order_id=r[3]["order_id"])),
    "duplicate email": (CUSTOMERS, lambda r: _set(r, 5, email=r[3]["email"])),
    "bad email": (CUSTOMERS, lambda r: _set(r, 5, email="nobody-at-example.com")),
    "bad phone": (CUSTOMERS, lambda r: _set(r, 5, phone="call me")),
    "unknown segment": (CUSTOMERS, lambda r: _set(r, 5, loyalty_segment="diamond")),
    "unknown status": (ORDERS, lambda r: _set(r, 1, status="lost")),
    "zero price": (PRODUCTS, lambda r: _set(r, 1, price="0.00")),
    "rating above five": (PRODUCTS, lambda r: _set(r, 1, rating_rate="5.5")),
    "image not a url": (PRODUCTS, lambda r: _set(r, 1, image="ftp://x/y.png")),
    "quantity zero": (ORDER_ITEMS, lambda r: _set(r, 1, quantity="0")),
    "negative id": (ORDER_ITEMS, lambda r: _set(r, 1, order_item_id="-7")),
    "unknown product": (ORDER_ITEMS, lambda r: _set(r, 1, product_id="999")),
    "unknown order": (ORDER_ITEMS, lambda r: _set(r, 1, order_id="123456")),
    "updated before created": (
        ORDERS,
        lambda r: _set(
            r,
            1,
            updated_at="2026-01-03T00:00:01+00:00",
            created_at="2026-01-03T05:00:00+00:00",
            ordered_at="2026-01-03T00:00:00+00:00",
        ),
    ),
    "updated after the window": (ORDERS, lambda r: _set(r, 1, updated_at="2026-01-04T00:15:00+00:00")),
    "updated at the window's end minus a microsecond": (
        ORDERS,
        lambda r: _set(r, 1, updated_at="2026-01-04T00:14:59.999999+00:00"),
    ),
    "event outside the day": (EVENTS, lambda r: _set(r, 0, event_time="2026-01-02T23:00:00Z")),
    "bad uuid": (EVENTS, lambda r: _set(r, 0, session_id="not-a-uuid")),
    "page view with a product": (EVENTS, lambda r: _set(r, 0, product_id="3")),
    "purchase without order": (EVENTS, lambda r: _set(r, 9, order_id=None)),
    "purchase without customer": (EVENTS, lambda r: _set(r, 9, customer_id=None)),
    "unknown device": (EVENTS, lambda r: _set(r, 3, device_type="fridge")),
    "a lost hour": (EVENTS, lambda r: [e for e in r if not e["event_time"].startswith("2026-01-03T05")]),
    "all anonymous": (
        EVENTS,
        lambda r: [{**e, "customer_id": None} if e["event_type"] not in ("checkout", "purchase") else e for e in r],
    ),
    "quoted empty string is null": (ORDERS, lambda r: _set(r, 1, payment_method="")),
    "as PostgreSQL writes timestamps (no defect)": (
        ORDERS,
        lambda r: [{**o, **{c: o[c].replace("T", " ").replace("+00:00", "+00") for c in _TS}} for o in r],
    ),
    "impossible date as PostgreSQL writes it": (ORDERS, lambda r: _set(r, 0, ordered_at="2026-02-30 10:00:00+00")),
    "fraction PostgreSQL would shorten": (ORDERS, lambda r: _set(r, 0, created_at="2026-01-03 10:00:00.500000+00")),
}


_TS = ("ordered_at", "created_at", "updated_at")
# Values PostgreSQL types but does not write that way: the set-based checks leave these to GX.
DECLINED = {"decimal with too many digits", "decimal in exponent form", "hour 24", "fraction PostgreSQL would shorten"}


@pytest.mark.parametrize("case", list(DEFECTS))
def test_each_defect_fails_the_same_expectations_in_both(warehouse, case):
    entity, mutate = DEFECTS[case]
    rows = mutate(rows_of(entity.qualified_name))
    verdict, outcome = both(warehouse, entity, rows)
    if verdict is None:  # PostgreSQL could not type a value: only ever on a partition GX rejects
        assert not outcome.success
        return
    # A value not written canonically (as PostgreSQL or the ISO forms render it): GX alone decides.
    assert bool(verdict.declined) == (case in DECLINED), verdict.declined
    if verdict.declined:
        return
    gx_failed = sorted({f.expectation for f in outcome.failed})
    assert sorted(set(verdict.failed)) == gx_failed, outcome.summary()
    assert verdict.success == outcome.success


def test_row_count_differing_from_the_manifest_fails_in_both(warehouse):
    verdict, outcome = both(warehouse, ORDERS, rows_of("shop.orders"), manifest_rows=41)
    assert verdict.failed == ["expect_table_row_count_to_equal"]
    assert [f.expectation for f in outcome.failed] == ["expect_table_row_count_to_equal"]


def test_a_header_that_is_not_the_contracts_is_left_to_gx():
    columns = [c for c in PRODUCTS.column_names if c != "price"]
    csv_bytes = partition_csv(PRODUCTS, sample_rows(PRODUCTS, DT, 3), columns=columns, compress=False)
    assert not set_based.header_matches(PRODUCTS, csv_bytes)
    assert set_based.header_matches(PRODUCTS, partition_csv(PRODUCTS, sample_rows(PRODUCTS, DT, 3), compress=False))
