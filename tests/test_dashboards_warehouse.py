"""Every card on the marts dbt builds (the lead's `built_warehouse` fixture): slow, end to end."""

from __future__ import annotations

from decimal import Decimal

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


# The same figures computed straight from the line-grain facts, the way the cards did before they
# read the marts at their own grain: the marts must not change what a card shows.
FROM_THE_FACTS = {
    "executive/total_revenue": "select coalesce(sum(line_revenue), 0) from marts.fact_orders where is_revenue",
    "executive/total_orders": "select count(distinct order_id) from marts.fact_orders where is_revenue",
    "executive/avg_order_value": """select round(avg(total), 2) from (select sum(line_revenue) as total
        from marts.fact_orders where is_revenue group by order_id) as orders""",
    "executive/active_customers_30d": """select count(distinct customer_id) from marts.fact_orders
        where (ordered_at at time zone 'UTC')::date
            > (select max(ordered_at at time zone 'UTC')::date from marts.fact_orders) - 30""",
    "executive/revenue_by_category": """select p.category, sum(f.line_revenue) from marts.fact_orders f
        join marts.dim_products p using (product_key) where f.is_revenue group by p.category
        order by 2 desc, 1""",
    "product_performance/category_performance": """select p.category, count(distinct f.order_id),
        coalesce(sum(f.quantity), 0), coalesce(sum(f.line_revenue), 0),
        round(sum(f.line_revenue) / nullif(sum(f.quantity), 0), 2)
        from marts.dim_products p left join marts.fact_orders f on f.product_key = p.product_key and f.is_revenue
        group by p.category order by 4 desc, 1""",
    "customer_analytics/value_segments": """select s.segment, count(c.customer_id), coalesce(sum(c.lifetime_revenue), 0)
        from unnest(array['VIP', 'High', 'Medium', 'Low']) with ordinality as s (segment, n)
        left join marts.mart_customer_lifetime_value c on c.value_segment = s.segment
        group by s.segment, s.n order by s.n""",
    "customer_analytics/top_customers": """select revenue_rank, full_name, city, country, value_segment,
        order_count, lifetime_revenue, avg_order_value, last_order_at from marts.mart_customer_lifetime_value
        where lifetime_revenue > 0 order by lifetime_revenue desc, customer_id limit 20""",
    "traffic/device_types": """select device_type, count(distinct session_id) from marts.fact_events
        group by device_type order by 2 desc, 1""",
    "traffic/event_types": """select event_type, count(*) from marts.fact_events
        group by event_type, funnel_step order by funnel_step""",
    "traffic/funnel_conversion": """select count(*) filter (where deepest >= 1), count(*) filter (where deepest >= 2),
        count(*) filter (where deepest >= 3), count(*) filter (where deepest >= 4),
        count(*) filter (where deepest >= 5)
        from (select max(funnel_step) as deepest from marts.fact_events group by session_id) s""",
}


def _rows(dsn: str, sql: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in cur.fetchall()]
    finally:
        conn.close()


@pytest.mark.parametrize("key", sorted(FROM_THE_FACTS))
def test_cards_show_what_the_facts_give(card_results, built_warehouse, key):
    expected = _rows(built_warehouse.warehouse_dsn, FROM_THE_FACTS[key])
    shown = [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in card_results[key].rows]
    if key == "traffic/funnel_conversion":
        shown = [tuple(row[1] for row in shown)]
    assert shown == expected
