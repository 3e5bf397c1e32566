"""The whole pipeline on the real embedded services: the demo's promises and reconciliation with the source."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shopflow.contracts import ENTITIES, get_entity
from shopflow.lake import day_interval
from shopflow.pipeline import Pipeline, date_range, open_lake
from shopflow.transform.runner import build
from tests.conftest import E2E_DAYS, E2E_END
from tests.pipeline_helpers import query, table_checksum

pytestmark = pytest.mark.slow
MARTS = (
    "fact_orders",
    "dim_customers",
    "mart_customer_lifetime_value",
    "mart_daily_revenue",
    "mart_monthly_revenue",
    "mart_product_performance",
    "mart_order_frequency",
    "mart_hourly_traffic",
)


def test_demo_validates_and_loads_every_partition(demo_run):
    settings, report = demo_run
    assert report.partitions_loaded == E2E_DAYS * len(ENTITIES)
    assert report.validations_passed == report.validations_run == report.partitions_loaded
    assert report.dashboards_index.exists() and report.data_docs_index.exists()
    lake = open_lake(settings)
    for name in ENTITIES:
        entity = get_entity(name)
        lake_rows = sum(
            lake.read_partition(entity, dt).manifest.row_count
            for dt in date_range(E2E_END - timedelta(days=E2E_DAYS - 1), E2E_END)
        )
        assert report.raw_rows[f"raw.{entity.table}"] == lake_rows


def test_marts_reconcile_with_the_shop_database(built_warehouse):
    """Orders, lines and revenue in the marts equal the same totals computed in the source database."""
    _, end = day_interval(E2E_END)
    source = query(
        built_warehouse.shop_dsn,
        """
        select count(distinct o.order_id), count(*), sum(i.quantity * i.unit_price)
        from orders o join order_items i using (order_id)
        where o.status not in ('cancelled', 'returned') and o.ordered_at < %s and o.updated_at < %s
    """,
        (end, end),
    )[0]
    marts = query(
        built_warehouse.warehouse_dsn,
        """
        select count(distinct order_id), count(*), sum(line_revenue) from marts.fact_orders where is_revenue
    """,
    )[0]
    assert marts == source
    all_lines = query(built_warehouse.shop_dsn, "select count(*) from order_items where updated_at < %s", (end,))[0][0]
    assert query(built_warehouse.warehouse_dsn, "select count(*) from marts.fact_orders")[0][0] == all_lines
    daily = query(built_warehouse.warehouse_dsn, "select sum(revenue), sum(orders) from marts.mart_daily_revenue")[0]
    monthly = query(built_warehouse.warehouse_dsn, "select sum(revenue), sum(orders) from marts.mart_monthly_revenue")[
        0
    ]
    assert daily == monthly == (source[2], source[0])


def test_demo_data_has_customers_with_several_scd2_versions(demo_run):
    _, report = demo_run
    assert report.business["customers_with_several_versions"] > 0
    assert report.business["customer_versions"] > report.mart_rows["mart_customer_lifetime_value"]


def test_rebuilding_marts_with_full_refresh_changes_nothing(built_warehouse):
    before = {m: table_checksum(built_warehouse.warehouse_dsn, f"marts.{m}") for m in MARTS}
    build(built_warehouse, full_refresh=True)
    after = {m: table_checksum(built_warehouse.warehouse_dsn, f"marts.{m}") for m in MARTS}
    assert after == before


def test_a_full_rebuild_from_the_lake_gives_the_same_warehouse(built_warehouse):
    raw_tables = [f"raw.{get_entity(n).table}" for n in ENTITIES]
    raw_before = {t: table_checksum(built_warehouse.warehouse_dsn, t) for t in raw_tables}
    marts_before = {m: table_checksum(built_warehouse.warehouse_dsn, f"marts.{m}") for m in MARTS}
    assert Pipeline.from_settings(built_warehouse).rebuild_from_lake() == E2E_DAYS * len(ENTITIES)
    build(built_warehouse, full_refresh=True)
    assert {t: table_checksum(built_warehouse.warehouse_dsn, t) for t in raw_tables} == raw_before
    assert {m: table_checksum(built_warehouse.warehouse_dsn, f"marts.{m}") for m in MARTS} == marts_before
