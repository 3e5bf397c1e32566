"""Short, plain-language findings computed from card results (no extra queries).

Each insight reads one card's result. Definitions, stated so the numbers can be checked:
- slow-moving share: products with status 'slow-moving' and their share of the revenue of the 30
  days ending on the latest order date (`revenue_last_30d`), not a stock valuation: the warehouse
  holds no stock quantities, so a value "at list price" could not be stated honestly.
- low-value share: customers in the 'Low' value segment (lifetime revenue under 500, including
  customers who never ordered) as a share of all registered customers.
- peak hour: the UTC hour of day with the most clickstream events (earliest hour on a tie) and its
  share of all events.
- last month: revenue of the latest complete month and its change on the month before.
- purchase conversion: sessions reaching purchase as a share of sessions with a page view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shopflow.dashboards.formatting import format_date
from shopflow.dashboards.queries import CardResult


@dataclass(frozen=True)
class Insight:
    """One finding shown in a dashboard's insights panel."""

    dashboard: str  # dashboard slug
    title: str
    text: str


def _num(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def _pct(part: Decimal, whole: Decimal) -> str:
    return f"{part / whole * 100:.1f}%"


def _money(value: Decimal) -> str:
    return f"${value:,.0f}"


def slow_moving_share(result: CardResult) -> Insight:
    """How many products are slow-moving and what share of the trailing 30-day revenue they earn."""
    records = result.records()
    slow = [r for r in records if r["inventory_status"] == "slow-moving"]
    title = "Slow-moving products"
    if not records:
        return Insight("product_performance", title, "No data: no products in the catalog.")
    total_30d = sum((_num(r["revenue_last_30d"]) for r in records), Decimal(0))
    slow_30d = sum((_num(r["revenue_last_30d"]) for r in slow), Decimal(0))
    head = f"{len(slow)} of {len(records)} products are slow-moving"
    if total_30d == 0:
        text = f"{head}; no product earned revenue in the 30 days to the latest order date."
    else:
        text = (
            f"{head}; together they earned {_pct(slow_30d, total_30d)} ({_money(slow_30d)}) of the "
            f"{_money(total_30d)} revenue of the 30 days to the latest order date."
        )
    return Insight("product_performance", title, text)


def low_value_share(result: CardResult) -> Insight:
    """Share of registered customers in the Low value segment."""
    counts = {r["value_segment"]: _num(r["customers"]) for r in result.records()}
    total = sum(counts.values(), Decimal(0))
    title = "Low-value customers"
    if total == 0:
        return Insight("customer_analytics", title, "No data: no registered customers.")
    low = counts.get("Low", Decimal(0))
    text = (
        f"{_pct(low, total)} of customers ({low:,.0f} of {total:,.0f}) are Low value: lifetime "
        "revenue under $500, including customers who registered but never ordered."
    )
    return Insight("customer_analytics", title, text)


def peak_traffic_hour(result: CardResult) -> Insight:
    """The hour of day (UTC) with the most events and its share of all events."""
    records = result.records()
    total = sum((_num(r["events"]) for r in records), Decimal(0))
    title = "Peak traffic hour"
    if total == 0:
        return Insight("traffic", title, "No data: no clickstream events.")
    peak = max(records, key=lambda r: (_num(r["events"]), -int(r["event_hour"])))
    hour = int(peak["event_hour"])
    text = (
        f"Traffic peaks at {hour:02d}:00-{hour:02d}:59 UTC with {_num(peak['events']):,.0f} events, "
        f"{_pct(_num(peak['events']), total)} of all events."
    )
    return Insight("traffic", title, text)


def last_month_change(result: CardResult) -> Insight:
    """Revenue of the latest complete month and its change on the month before."""
    title = "Last month"
    if not result.rows:
        return Insight("executive", title, "No data: no revenue months yet.")
    last = result.records()[-1]
    month = format_date(last["month_start"], "month")
    text = f"Revenue in {month} was {_money(_num(last['revenue']))}"
    growth = last["mom_growth"]
    if growth is None or len(result.rows) < 2:
        return Insight("executive", title, text + "; there is no earlier month to compare with.")
    previous = format_date(result.records()[-2]["month_start"], "month")
    direction = "up" if growth >= 0 else "down"
    return Insight("executive", title, f"{text}, {direction} {abs(_num(growth)) * 100:.1f}% on {previous}.")


def purchase_conversion(result: CardResult) -> Insight:
    """Share of sessions with a page view that reach purchase."""
    records = result.records()
    title = "Purchase conversion"
    first = _num(records[0]["sessions"]) if records else Decimal(0)
    if first == 0:
        return Insight("traffic", title, "No data: no sessions.")
    purchases = _num(records[-1]["sessions"])
    text = (
        f"{_pct(purchases, first)} of sessions ({purchases:,.0f} of {first:,.0f}) reach "
        f"{records[-1]['step_name'].lower()}."
    )
    return Insight("traffic", title, text)


INSIGHTS: dict[str, Callable[[CardResult], Insight]] = {
    "executive/last_month_revenue": last_month_change,
    "product_performance/slow_moving_inventory": slow_moving_share,
    "customer_analytics/value_segments": low_value_share,
    "traffic/hourly_activity": peak_traffic_hour,
    "traffic/funnel_conversion": purchase_conversion,
}


def compute_insights(results: dict[str, CardResult]) -> list[Insight]:
    """Every insight whose card is among `results`, in the order of INSIGHTS."""
    return [build(results[key]) for key, build in INSIGHTS.items() if key in results]
