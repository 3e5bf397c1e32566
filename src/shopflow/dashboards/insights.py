"""Short, plain-language findings computed from card results (no extra queries).

Each insight reads one card's result. Definitions, stated so the numbers can be checked:
- slow movers: the products with status 'slow-moving' (red) and 'watch' (orange), named, with the
  revenue they earned in the 90 days ending on the latest order date (`revenue_last_90d`) and its
  share of the catalog's: the revenue at stake if they were delisted. Not a stock valuation: the
  warehouse holds no stock quantities, so a value "at list price" could not be stated honestly.
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
from shopflow.mart_rules import SLOW_MOVER_ORANGE_SHARE, SLOW_MOVER_RED_SHARE, SLOW_MOVER_WINDOW_DAYS


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


def _names(records: list[dict[str, Any]]) -> str:
    titles = [str(r["title"]) for r in records]
    return titles[0] if len(titles) == 1 else ", ".join(titles[:-1]) + " and " + titles[-1]


def slow_moving_share(result: CardResult) -> Insight:
    """Which products are slow-moving (red) or on watch (orange), and the 90-day revenue they still earn."""
    records = result.records()
    title = "Slow-moving products"
    if not records:
        return Insight("product_performance", title, "No data: no products in the catalog.")
    slow = [r for r in records if r["inventory_status"] == "slow-moving"]
    watch = [r for r in records if r["inventory_status"] == "watch"]
    window = f"the {SLOW_MOVER_WINDOW_DAYS} days to the latest order date"
    if not slow and not watch:
        return Insight(
            "product_performance",
            title,
            f"None of the {len(records)} products is slow-moving: each sold at least "
            f"{SLOW_MOVER_ORANGE_SHARE:.0%} of the median product's units in {window}.",
        )
    total = sum((_num(r["revenue_last_90d"]) for r in records), Decimal(0))

    def revenue_of(group: list[dict[str, Any]]) -> tuple[str, str]:
        revenue = sum((_num(r["revenue_last_90d"]) for r in group), Decimal(0))
        return _money(revenue), (_pct(revenue, total) if total else "")

    criterion = f"sold under {SLOW_MOVER_RED_SHARE:.0%} of the median product's units in {window}"
    if slow:
        money, share = revenue_of(slow)
        text = (
            f"Red: {len(slow)} of {len(records)} products {criterion}: {_names(slow)}, with {money} of revenue "
            "in those days" + (f" ({share} of {_money(total)})." if share else ".")
        )
    else:
        text = f"Red: none of the {len(records)} products {criterion}."
    if watch:
        money, share = revenue_of(watch)
        text += f" Orange (under {SLOW_MOVER_ORANGE_SHARE:.0%}): {_names(watch)}, with {money}" + (
            f" ({share})." if share else "."
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
