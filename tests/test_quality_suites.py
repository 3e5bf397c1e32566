"""Raw partition suites: clean batches pass, and each family of defect fails with the right expectation
named in the summary together with an offending row. Pure pandas; no services."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest

from shopflow.contracts import CUSTOMERS, ENTITIES, EVENTS, ORDER_ITEMS, ORDERS, PRODUCTS, Entity
from shopflow.quality.frames import read_partition_frame
from shopflow.quality.gate import QualityGateError, validate_csv, validate_partition
from shopflow.quality.outcome import ValidationOutcome
from shopflow.quality.suites import (
    ANONYMOUS_SHARE_MIN_EVENTS,
    FAMILIES,
    HOUR_COVERAGE_MIN_EVENTS,
    PartitionContext,
    build_suite,
    build_suite_spec,
)
from tests.quality_samples import SAMPLE_PRODUCT_IDS, partition_csv, sample_rows

DT = date(2026, 1, 3)
KNOWN_ORDERS = frozenset(range(1, 10_000))
SIZES = {"fakestore.products": 20, "shop.customers": 40, "shop.orders": 40, "shop.order_items": 60}


def ctx_for(entity: Entity, rows: int, **changes) -> PartitionContext:
    base = {"known_product_ids": SAMPLE_PRODUCT_IDS, "known_order_ids": KNOWN_ORDERS}
    return PartitionContext(entity, DT, rows, **{**base, **changes})


def validate_rows(entity: Entity, rows: list[dict], manifest_rows: int | None = None, **ctx) -> ValidationOutcome:
    frame = read_partition_frame(entity, partition_csv(entity, rows))
    count = len(rows) if manifest_rows is None else manifest_rows
    return validate_partition(ctx_for(entity, count, **ctx), frame)


def failed_pairs(outcome: ValidationOutcome) -> set[tuple[str, str | None]]:
    return {(f.expectation, f.column) for f in outcome.failed}


def only_failure(outcome: ValidationOutcome, expectation: str, column: str | None):
    assert failed_pairs(outcome) == {(expectation, column)}, outcome.summary()
    (failure,) = outcome.failed
    summary = outcome.summary()
    assert expectation in summary
    if column:
        assert f"on {column}" in summary
    return failure


# --- clean batches ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [*SIZES, "clickstream.events"])
def test_clean_batch_passes(name):
    entity = ENTITIES[name]
    rows = sample_rows(entity, DT, SIZES.get(name, HOUR_COVERAGE_MIN_EVENTS))
    outcome = validate_rows(entity, rows)
    assert outcome.success, outcome.summary()
    assert outcome.evaluated == len(build_suite_spec(ctx_for(entity, len(rows))).items)
    assert outcome.summary().endswith(f"all {outcome.evaluated} expectations passed")
    assert outcome.batch == f"raw/{entity.source}/{entity.name}/dt=2026-01-03"


def test_busy_event_day_gets_the_distribution_expectations():
    quiet = {i[0] for i in build_suite_spec(ctx_for(EVENTS, ANONYMOUS_SHARE_MIN_EVENTS - 1)).items}
    busy = {i[0] for i in build_suite_spec(ctx_for(EVENTS, HOUR_COVERAGE_MIN_EVENTS)).items}
    assert busy - quiet == {
        "ExpectColumnDistinctValuesToContainSet",
        "ExpectColumnProportionOfNonNullValuesToBeBetween",
    }


# --- schema -----------------------------------------------------------------------------------------
def test_missing_column_fails_the_schema():
    entity = PRODUCTS
    columns = [c for c in entity.column_names if c != "price"]
    csv = partition_csv(entity, sample_rows(entity, DT, 5), columns=columns)
    outcome = validate_partition(ctx_for(entity, 5), read_partition_frame(entity, csv))
    assert not outcome.success
    by_type = {(f.expectation, f.column): f for f in outcome.failed}
    ordered = by_type[("expect_table_columns_to_match_ordered_list", None)]
    assert "missing ['price', '_unparsed_price']" in ordered.observed
    assert outcome.failed[0] is ordered or outcome.failed[0].family == "schema"
    # Expectations on the missing column report that they could not be evaluated.
    assert by_type[("expect_column_type_to_be", "price")].exception
    assert "price" in outcome.summary() and "could not be evaluated" in outcome.summary()


def test_unparseable_number_fails_naming_column_and_line():
    rows = sample_rows(ORDER_ITEMS, DT, 10)
    rows[4]["quantity"] = "three"
    failure = only_failure(validate_rows(ORDER_ITEMS, rows), "expect_column_values_to_be_null", "quantity")
    assert failure.family == "schema"
    assert "parses as integer" in failure.rule
    assert failure.examples == [{"line": 6, "order_item_id": 5, "quantity": "three"}]


def test_wrong_dtype_fails_the_type_expectation():
    frame = read_partition_frame(ORDERS, partition_csv(ORDERS, sample_rows(ORDERS, DT, 5)))
    frame["customer_id"] = frame["customer_id"].astype("float64")
    outcome = validate_partition(ctx_for(ORDERS, 5), frame)
    failure = only_failure(outcome, "expect_column_type_to_be", "customer_id")
    assert failure.observed == "found 'float64'"


def test_timestamp_with_impossible_date_is_unparsed():
    rows = sample_rows(ORDERS, DT, 5)
    rows[0]["ordered_at"] = "2026-02-30T10:00:00+00:00"
    failure = only_failure(validate_rows(ORDERS, rows), "expect_column_values_to_be_null", "ordered_at")
    assert failure.examples[0]["ordered_at"] == "2026-02-30T10:00:00+00:00"


# --- completeness / uniqueness --------------------------------------------------------------------
def test_null_key_fails_completeness():
    rows = sample_rows(ORDERS, DT, 10)
    rows[2]["order_id"] = None
    failure = only_failure(validate_rows(ORDERS, rows), "expect_column_values_to_not_be_null", "order_id")
    assert failure.family == "completeness"
    assert failure.examples == [{"line": 4, "order_id": None}]
    assert "line=4" in validate_rows(ORDERS, rows).summary()


def test_null_phone_is_allowed_but_blank_name_is_not():
    rows = sample_rows(CUSTOMERS, DT, 10)
    rows[0]["phone"] = None
    assert validate_rows(CUSTOMERS, rows).success
    rows[1]["first_name"] = "   "
    failure = only_failure(validate_rows(CUSTOMERS, rows), "expect_column_values_to_match_regex", "first_name")
    assert failure.examples[0]["customer_id"] == 2


def test_duplicate_event_id_fails_uniqueness():
    rows = sample_rows(EVENTS, DT, 50)
    rows[7]["event_id"] = rows[3]["event_id"]
    failure = only_failure(validate_rows(EVENTS, rows), "expect_column_values_to_be_unique", "event_id")
    assert failure.family == "uniqueness"
    assert [e["line"] for e in failure.examples] == [5, 9]
    assert all(e["event_id"] == rows[3]["event_id"] for e in failure.examples)


def test_duplicate_email_fails_uniqueness():
    rows = sample_rows(CUSTOMERS, DT, 10)
    rows[5]["email"] = rows[1]["email"]
    only_failure(validate_rows(CUSTOMERS, rows), "expect_column_values_to_be_unique", "email")


# --- ranges -----------------------------------------------------------------------------------------
def test_negative_quantity_fails_range():
    rows = sample_rows(ORDER_ITEMS, DT, 10)
    rows[0]["quantity"] = -2
    failure = only_failure(validate_rows(ORDER_ITEMS, rows), "expect_column_values_to_be_between", "quantity")
    assert failure.family == "range"
    assert failure.examples == [{"line": 2, "order_item_id": 1, "quantity": -2}]
    assert "order_item_id=1, quantity=-2" in validate_rows(ORDER_ITEMS, rows).summary()


def test_quantity_above_100_fails_range():
    rows = sample_rows(ORDER_ITEMS, DT, 10)
    rows[3]["quantity"] = 101
    only_failure(validate_rows(ORDER_ITEMS, rows), "expect_column_values_to_be_between", "quantity")


def test_negative_price_fails_range():
    rows = sample_rows(PRODUCTS, DT, 20)
    rows[4]["price"] = "-1.00"
    failure = only_failure(validate_rows(PRODUCTS, rows), "expect_column_values_to_be_between", "price")
    assert failure.examples == [{"line": 6, "product_id": 5, "price": -1.0}]


def test_rating_of_7_fails_range():
    rows = sample_rows(PRODUCTS, DT, 20)
    rows[9]["rating_rate"] = "7.0"
    failure = only_failure(validate_rows(PRODUCTS, rows), "expect_column_values_to_be_between", "rating_rate")
    assert failure.examples[0]["rating_rate"] == 7.0
    assert "<= 5.0" in failure.rule


def test_updated_at_outside_the_interval_fails_unless_within_lateness():
    rows = sample_rows(ORDERS, DT, 10)
    rows[0]["updated_at"] = "2026-01-04T00:10:00+00:00"  # 10 min late: inside the 15 min allowance
    assert validate_rows(ORDERS, rows).success
    rows[0]["updated_at"] = "2026-01-04T00:20:00+00:00"
    only_failure(validate_rows(ORDERS, rows), "expect_column_values_to_be_between", "updated_at")
    assert validate_rows(ORDERS, rows, lateness=timedelta(minutes=30)).success


def test_orders_and_lines_may_have_changed_before_the_day_but_customers_may_not():
    """Orders travel with their lines' changes and lines with their order's: no lower bound for them."""
    for entity in (ORDERS, ORDER_ITEMS):
        rows = sample_rows(entity, DT, 10)
        rows[0].update(created_at="2025-12-20T08:00:00+00:00", updated_at="2025-12-24T09:00:00+00:00")
        if entity == ORDERS:
            rows[0]["ordered_at"] = "2025-12-20T08:00:00+00:00"
        assert validate_rows(entity, rows).success, entity.qualified_name
        rows[1]["updated_at"] = "2026-01-04T00:20:00+00:00"  # after the day: never
        only_failure(validate_rows(entity, rows), "expect_column_values_to_be_between", "updated_at")
    rows = sample_rows(CUSTOMERS, DT, 10)
    rows[0].update(created_at="2025-12-20T08:00:00+00:00", updated_at="2025-12-24T09:00:00+00:00")
    only_failure(validate_rows(CUSTOMERS, rows), "expect_column_values_to_be_between", "updated_at")


def test_full_history_accepts_all_history_up_to_interval_end():
    rows = sample_rows(CUSTOMERS, DT, 10)
    rows[0].update(registered_at="2025-01-01T08:00:00+00:00", created_at="2025-01-01T08:00:00+00:00")
    rows[0]["updated_at"] = "2025-06-01T12:00:00+00:00"
    only_failure(validate_rows(CUSTOMERS, rows), "expect_column_values_to_be_between", "updated_at")
    assert validate_rows(CUSTOMERS, rows, full_history=True).success
    rows[1]["updated_at"] = "2026-01-05T00:00:00+00:00"
    only_failure(validate_rows(CUSTOMERS, rows, full_history=True), "expect_column_values_to_be_between", "updated_at")


def test_created_after_updated_fails_consistency():
    rows = sample_rows(ORDER_ITEMS, DT, 10)
    rows[1]["created_at"] = "2026-01-03T23:59:59+00:00"
    rows[1]["updated_at"] = "2026-01-03T10:00:00+00:00"
    failure = only_failure(
        validate_rows(ORDER_ITEMS, rows), "expect_column_pair_values_a_to_be_greater_than_b", "updated_at"
    )
    assert failure.examples[0]["order_item_id"] == 2
    assert set(failure.examples[0]) == {"line", "order_item_id", "updated_at", "created_at"}


def test_event_time_allows_late_events_from_the_previous_day():
    rows = sample_rows(EVENTS, DT, 30)
    rows[0]["event_time"] = "2026-01-02T23:50:00.000Z"
    assert validate_rows(EVENTS, rows).success
    rows[0]["event_time"] = "2026-01-02T23:40:00.000Z"
    only_failure(validate_rows(EVENTS, rows), "expect_column_values_to_be_between", "event_time")


# --- allowed values ---------------------------------------------------------------------------------
def test_unknown_status_fails_allowed_values():
    rows = sample_rows(ORDERS, DT, 10)
    rows[6]["status"] = "lost"
    failure = only_failure(validate_rows(ORDERS, rows), "expect_column_values_to_be_in_set", "status")
    assert failure.family == "allowed_values"
    assert failure.examples == [{"line": 8, "order_id": 7, "status": "lost"}]
    assert "status='lost'" in validate_rows(ORDERS, rows).summary()


@pytest.mark.parametrize(
    ("entity", "column", "value"),
    [
        (ORDERS, "payment_method", "cash"),
        (CUSTOMERS, "loyalty_segment", "diamond"),
        (PRODUCTS, "category", "toys"),
        (EVENTS, "event_type", "scroll"),
        (EVENTS, "device_type", "watch"),
        (EVENTS, "referrer", "tiktok"),
        (CUSTOMERS, "email", "not-an-email"),
        (CUSTOMERS, "phone", "call me"),
        (PRODUCTS, "image", "fakestoreapi.com/img/1.jpg"),
        (EVENTS, "session_id", "session-1"),
    ],
)
def test_values_outside_the_contract_fail(entity, column, value):
    rows = sample_rows(entity, DT, 20)
    rows[0][column] = value
    outcome = validate_rows(entity, rows)
    assert {c for _, c in failed_pairs(outcome)} == {column}, outcome.summary()
    assert outcome.failed[0].family == "allowed_values"
    assert repr(value) in outcome.summary()


def test_wrong_partition_date_fails():
    rows = sample_rows(ORDERS, DT, 5)
    rows[0]["dt"] = "2026-01-04"
    only_failure(validate_rows(ORDERS, rows), "expect_column_values_to_be_in_set", "dt")


# --- volume -----------------------------------------------------------------------------------------
def test_row_count_must_equal_the_manifest():
    rows = sample_rows(ORDERS, DT, 9)
    failure = only_failure(validate_rows(ORDERS, rows, manifest_rows=10), "expect_table_row_count_to_equal", None)
    assert failure.family == "volume"
    assert failure.rule == "10 rows" and failure.observed == "found 9"


def test_empty_catalog_snapshot_fails():
    outcome = validate_rows(PRODUCTS, [])
    assert failed_pairs(outcome) == {("expect_table_row_count_to_be_between", None)}


# --- referential ------------------------------------------------------------------------------------
def test_order_item_for_unknown_product_fails_referential():
    rows = sample_rows(ORDER_ITEMS, DT, 10)
    rows[3]["product_id"] = 999
    failure = only_failure(validate_rows(ORDER_ITEMS, rows), "expect_column_values_to_be_in_set", "product_id")
    assert failure.family == "referential"
    assert failure.examples == [{"line": 5, "order_item_id": 4, "product_id": 999}]


def test_order_item_for_unknown_order_fails_referential():
    rows = sample_rows(ORDER_ITEMS, DT, 10)
    outcome = validate_rows(ORDER_ITEMS, rows, known_order_ids=frozenset({1, 2, 3}))
    failure = only_failure(outcome, "expect_column_values_to_be_in_set", "order_id")
    assert failure.unexpected_count == 1  # order 4 (lines 10): sample lines belong to orders 1-4
    # The stored suite carries only the batch's known ids, not the whole warehouse's.
    config = next(
        r["expectation_config"]
        for r in outcome.result["results"]
        if r["expectation_config"]["kwargs"].get("column") == "order_id"
        and r["expectation_config"]["type"] == "expect_column_values_to_be_in_set"
    )
    assert config["kwargs"]["value_set"] == [1, 2, 3]


def test_event_for_unknown_product_fails_and_unknown_sets_skip_the_check():
    rows = sample_rows(EVENTS, DT, 30)
    product_row = next(i for i, r in enumerate(rows) if r["product_id"] is not None)
    rows[product_row]["product_id"] = 77
    only_failure(validate_rows(EVENTS, rows), "expect_column_values_to_be_in_set", "product_id")
    assert validate_rows(EVENTS, rows, known_product_ids=None).success


# --- consistency of the funnel ----------------------------------------------------------------------
def test_purchase_without_order_fails():
    rows = sample_rows(EVENTS, DT, 30)
    purchase = next(r for r in rows if r["event_type"] == "purchase")
    purchase["order_id"] = None
    failure = only_failure(validate_rows(EVENTS, rows), "expect_column_values_to_not_be_null", "order_id")
    assert failure.family == "consistency"
    assert failure.examples[0]["event_type"] == "purchase"


def test_page_view_with_order_fails():
    rows = sample_rows(EVENTS, DT, 30)
    next(r for r in rows if r["event_type"] == "page_view")["order_id"] = 5
    only_failure(validate_rows(EVENTS, rows), "expect_column_values_to_be_null", "order_id")


# --- distribution -----------------------------------------------------------------------------------
def test_busy_day_missing_hour_4_fails_distribution():
    rows = [r for r in sample_rows(EVENTS, DT, 1000) if not r["event_time"].startswith("2026-01-03T04")]
    assert len(rows) >= HOUR_COVERAGE_MIN_EVENTS
    failure = only_failure(validate_rows(EVENTS, rows), "expect_column_distinct_values_to_contain_set", "event_time")
    assert failure.family == "distribution"
    assert failure.observed == "missing {4}"
    assert "all 24 UTC hours" in validate_rows(EVENTS, rows).summary()


def test_quiet_day_missing_an_hour_passes():
    rows = [r for r in sample_rows(EVENTS, DT, 100) if not r["event_time"].startswith("2026-01-03T04")]
    assert validate_rows(EVENTS, rows).success


def test_anonymous_share_out_of_range_fails_on_a_busy_day():
    rows = sample_rows(EVENTS, DT, 600)
    for row in rows:
        if row["event_type"] not in ("checkout", "purchase"):
            row["customer_id"] = 7  # nearly everyone logged in: anonymous share ~0%
    failure = only_failure(
        validate_rows(EVENTS, rows), "expect_column_proportion_of_non_null_values_to_be_between", "customer_id"
    )
    assert failure.observed == "found 1.0"


# --- the gate ---------------------------------------------------------------------------------------
def test_gate_raises_with_partition_and_summary():
    rows = sample_rows(ORDERS, DT, 10)
    rows[6]["status"] = "lost"
    with pytest.raises(QualityGateError) as caught:
        validate_csv(ctx_for(ORDERS, 10), partition_csv(ORDERS, rows))
    message = str(caught.value)
    assert message.startswith("quality gate rejected raw/shop/orders/dt=2026-01-03:")
    assert "expect_column_values_to_be_in_set on status" in message and "status='lost'" in message
    document = json.loads(caught.value.outcome.result_json())
    assert document["success"] is False
    assert document["shopflow"]["failed"][0]["examples"] == [{"line": 8, "order_id": 7, "status": "lost"}]


def test_gate_passes_clean_partition():
    rows = sample_rows(ORDERS, DT, 10)
    outcome = validate_csv(ctx_for(ORDERS, 10), partition_csv(ORDERS, rows))
    assert outcome.success and outcome.failed == []


def test_gate_rejects_unreadable_csv():
    broken = b"order_id,customer_id\n1,2,3,4\n"
    with pytest.raises(QualityGateError) as caught:
        validate_csv(ctx_for(ORDERS, 1), broken)
    (failure,) = caught.value.outcome.failed
    assert failure.expectation == "readable_csv"
    assert "raw/shop/orders/dt=2026-01-03" in str(caught.value)
    json.loads(caught.value.outcome.result_json())


def test_partition_context_rejects_bad_input():
    with pytest.raises(ValueError, match="manifest_row_count"):
        PartitionContext(ORDERS, DT, -1)
    with pytest.raises(TypeError, match="must be a date"):
        PartitionContext(ORDERS, "2026-01-03", 1)  # type: ignore[arg-type]


# --- the suites as a whole --------------------------------------------------------------------------
def test_at_least_130_expectations_in_all():
    raw = {
        name: len(build_suite(ctx_for(entity, HOUR_COVERAGE_MIN_EVENTS)).expectations)
        for name, entity in ENTITIES.items()
    }
    assert all(count >= 20 for count in raw.values()), raw
    assert sum(raw.values()) >= 130, raw


def test_every_expectation_names_its_family():
    specs = [build_suite_spec(ctx_for(e, HOUR_COVERAGE_MIN_EVENTS)) for e in ENTITIES.values()]
    families = {kwargs["meta"]["family"] for spec in specs for _, kwargs in spec.items}
    assert families == set(FAMILIES)


def test_great_expectations_is_1x():
    import great_expectations

    assert great_expectations.__version__.startswith("1."), great_expectations.__version__


def test_importing_the_gate_does_not_import_great_expectations():
    code = "import sys, shopflow.quality.gate; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
