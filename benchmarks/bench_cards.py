"""Benchmark of the dashboard cards: p50/p95 per card and of a whole refresh, on the current warehouse.

A harness, not a test. It reads the configured warehouse (`shopflow services up`, or WAREHOUSE_DSN)
in read-only transactions. One round runs every card once, in dashboard order, plus the latest-order
query the HTML pages show: what one refresh of every dashboard costs. After one untimed warm-up
round it times `--runs` rounds and prints p50/p95/max per card, the refresh's p50/p95, and whether
the targets hold (every card p95 < 100 ms, a refresh < 500 ms). `--explain KEY` prints the card's
`EXPLAIN (ANALYZE, BUFFERS)` plan (the evidence docs/performance.md quotes).

    .venv/bin/python benchmarks/bench_cards.py              # 20 rounds
    .venv/bin/python benchmarks/bench_cards.py --runs 50 --dsn postgresql://...
    .venv/bin/python benchmarks/bench_cards.py --explain product_performance/category_performance
    make bench-cards SCALE=100                              # builds a scale-100 demo warehouse first
"""

from __future__ import annotations

import argparse
import statistics
import time

from shopflow.config import load_settings
from shopflow.dashboards.definitions import DEFAULT_ROOT, all_cards, load_dashboards
from shopflow.dashboards.queries import readonly_connection, run_card

CARD_P95_TARGET_MS = 100.0
REFRESH_TARGET_MS = 500.0
# The HTML pages' "Data through" line: part of a refresh, so part of the total.
DATA_THROUGH_SQL = "select max(date_day) from marts.mart_daily_revenue"
VOLUME_SQL = """
select
    (select count(*) from marts.fact_orders),
    (select count(*) from marts.fact_order_totals),
    (select count(*) from marts.dim_customers where is_current),
    (select count(*) from marts.fact_events)
"""


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of `samples` (pct in 0-100)."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def _timed_query(conn, sql: str) -> float:
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(sql)
        cur.fetchall()
    conn.rollback()
    return (time.perf_counter() - started) * 1000


def _explain(conn, card) -> str:
    with conn.cursor() as cur:
        cur.execute("explain (analyze, buffers, costs off, timing on) " + card.sql)
        plan = "\n".join(row[0] for row in cur.fetchall())
    conn.rollback()
    return plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed rounds of every card (default 20)")
    parser.add_argument("--dsn", help="warehouse DSN (default: the configured warehouse)")
    parser.add_argument("--definitions", default=str(DEFAULT_ROOT), help="metabase/ definitions folder")
    parser.add_argument("--explain", action="append", default=[], metavar="KEY", help="print a card's plan")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    dsn = args.dsn or load_settings().warehouse_dsn
    cards = all_cards(load_dashboards(args.definitions))
    by_key = {card.key: card for card in cards}
    unknown = [key for key in args.explain if key not in by_key]
    if unknown:
        parser.error(f"--explain: no card {', '.join(unknown)}; cards: {', '.join(by_key)}")

    samples: dict[str, list[float]] = {card.key: [] for card in cards}
    rows: dict[str, int] = {}
    refreshes: list[float] = []
    with readonly_connection(dsn) as conn:
        with conn.cursor() as cur:
            cur.execute(VOLUME_SQL)
            order_lines, orders, customers, events = cur.fetchone()
        conn.rollback()
        for round_number in range(args.runs + 1):
            total = _timed_query(conn, DATA_THROUGH_SQL)
            for card in cards:
                started = time.perf_counter()
                result = run_card(conn, card)
                elapsed = (time.perf_counter() - started) * 1000
                total += elapsed
                rows[card.key] = len(result.rows)
                if round_number:  # round 0 warms the caches
                    samples[card.key].append(elapsed)
            if round_number:
                refreshes.append(total)
        plans = {key: _explain(conn, by_key[key]) for key in args.explain}

    print(
        f"warehouse: {order_lines:,} order lines, {orders:,} orders, {customers:,} customers, {events:,} events; "
        f"{args.runs} rounds of {len(cards)} cards\n"
    )
    stats = [(key, rows[key], statistics.median(s), percentile(s, 95), max(s)) for key, s in samples.items()]
    width = max(len(key) for key in samples)
    print(f"{'card':<{width}}  {'rows':>6}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}")
    print("-" * (width + 38))
    for key, n_rows, p50, p95, worst in sorted(stats, key=lambda r: -r[3]):
        print(f"{key:<{width}}  {n_rows:>6}  {p50:>8.1f}  {p95:>8.1f}  {worst:>8.1f}")
    print("-" * (width + 38))
    refresh_p50, refresh_p95 = statistics.median(refreshes), percentile(refreshes, 95)
    print(
        f"{'refresh (every card once)':<{width}}  {'':>6}  {refresh_p50:>8.1f}  {refresh_p95:>8.1f}  {max(refreshes):>8.1f}"
    )

    slowest_key, _, _, slowest_p95, _ = max(stats, key=lambda r: r[3])
    cards_ok = slowest_p95 < CARD_P95_TARGET_MS
    refresh_ok = refresh_p95 < REFRESH_TARGET_MS
    print(
        f"\ntargets: every card p95 < {CARD_P95_TARGET_MS:.0f} ms: {'met' if cards_ok else 'MISSED'} "
        f"(slowest {slowest_key}, {slowest_p95:.1f} ms); refresh p95 < {REFRESH_TARGET_MS:.0f} ms: "
        f"{'met' if refresh_ok else 'MISSED'} ({refresh_p95:.1f} ms)"
    )
    for key, plan in plans.items():
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) {key}\n{plan}")


if __name__ == "__main__":
    main()
