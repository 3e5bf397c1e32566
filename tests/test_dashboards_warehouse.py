"""Every card on the marts dbt builds (the lead's `built_warehouse` fixture): slow, end to end."""

from __future__ import annotations

import pytest

from shopflow.dashboards.definitions import all_cards, load_dashboards
from shopflow.dashboards.html import NO_DATA, render_dashboards
from shopflow.dashboards.queries import run_cards

pytestmark = pytest.mark.slow

CARDS = all_cards(load_dashboards())


@pytest.fixture(scope="module")
def card_results(built_warehouse):
    return run_cards(built_warehouse.warehouse_dsn, CARDS)


def test_every_card_runs_and_returns_its_declared_columns(card_results):
    assert set(card_results) == {c.key for c in CARDS}
    for key, result in card_results.items():
        assert result.columns == result.card.column_names, key


def test_cards_respect_the_marts_contract(card_results):
    hourly = card_results["traffic/hourly_activity"]
    assert hourly.column_values("event_hour") == list(range(24))
    assert sum(hourly.column_values("events")) > 0
    segments = card_results["customer_analytics/value_segments"]
    assert segments.column_values("value_segment") == ["VIP", "High", "Medium", "Low"]
    frequency = card_results["customer_analytics/order_frequency"]
    assert frequency.column_values("frequency_bucket")[0] == "0 orders"
    assert len(frequency.rows) == 6
    funnel = card_results["traffic/funnel_conversion"].column_values("sessions")
    assert len(funnel) == 5 and funnel == sorted(funnel, reverse=True) and funnel[0] > 0
    top = card_results["product_performance/top_products_by_revenue"].column_values("revenue")
    assert 0 < len(top) <= 10 and top == sorted(top, reverse=True)
    assert len(card_results["customer_analytics/top_customers"].rows) <= 20
    history = card_results["traffic/customer_segment_history"].records()
    assert history, "dim_customers has no rows"
    assert len({r["customer_id"] for r in history}) == 1
    assert [r["version_number"] for r in history] == list(range(1, len(history) + 1))
    assert sum(1 for r in history if r["is_current"]) == 1
    statuses = set(card_results["product_performance/slow_moving_inventory"].column_values("inventory_status"))
    assert statuses <= {"slow-moving", "watch", "healthy"}
    (total,) = card_results["executive/total_revenue"].rows[0]
    by_category = sum(card_results["executive/revenue_by_category"].column_values("revenue"))
    assert total == by_category
    daily = card_results["executive/daily_orders_trend"]
    assert len(daily.rows) == 90


def test_render_on_the_built_warehouse(built_warehouse, tmp_path):
    index = render_dashboards(built_warehouse.warehouse_dsn, tmp_path)
    executive = (tmp_path / "executive.html").read_text()
    assert "Data through " in executive
    # The demo pipeline produces orders: none of the executive cards is empty.
    assert NO_DATA + "</div>" not in executive
    assert "Peak traffic hour" in index.read_text()
