"""Benchmark of the dashboard cards: p50/p95 of each card's SQL over N runs on the current warehouse.

A harness, not a test. It reads the configured warehouse (`shopflow services up`, or WAREHOUSE_DSN)
in read-only transactions, after one untimed warm-up run per card, and prints one row per card
plus the time to run every card once (what one HTML render or dashboard refresh costs).

    .venv/bin/python benchmarks/bench_cards.py              # 20 runs per card
    .venv/bin/python benchmarks/bench_cards.py --runs 50 --dsn postgresql://...
"""

from __future__ import annotations

import argparse
import statistics
import time

from shopflow.config import load_settings
from shopflow.dashboards.definitions import DEFAULT_ROOT, all_cards, load_dashboards
from shopflow.dashboards.queries import readonly_connection, run_card


def percentile(samples: list[float], pct: float) -> float:
    """Nearest-rank percentile of `samples` (pct in 0-100)."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per card (default 20)")
    parser.add_argument("--dsn", help="warehouse DSN (default: the configured warehouse)")
    parser.add_argument("--definitions", default=str(DEFAULT_ROOT), help="metabase/ definitions folder")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    dsn = args.dsn or load_settings().warehouse_dsn
    cards = all_cards(load_dashboards(args.definitions))
    rows = []
    with readonly_connection(dsn) as conn:
        with conn.cursor() as cur:
            cur.execute("select count(*) from marts.fact_orders")
            (order_lines,) = cur.fetchone()
            cur.execute("select count(*) from marts.fact_events")
            (events,) = cur.fetchone()
        conn.rollback()
        for card in cards:
            warm = run_card(conn, card)
            samples = []
            for _ in range(args.runs):
                started = time.perf_counter()
                run_card(conn, card)
                samples.append((time.perf_counter() - started) * 1000)
            rows.append((card.key, len(warm.rows), statistics.median(samples), percentile(samples, 95), max(samples)))

    print(f"warehouse: {order_lines:,} order lines, {events:,} events; {args.runs} runs per card\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'card':<{width}}  {'rows':>6}  {'p50 ms':>8}  {'p95 ms':>8}  {'max ms':>8}")
    print("-" * (width + 38))
    for key, n_rows, p50, p95, worst in sorted(rows, key=lambda r: -r[3]):
        print(f"{key:<{width}}  {n_rows:>6}  {p50:>8.1f}  {p95:>8.1f}  {worst:>8.1f}")
    print("-" * (width + 38))
    print(f"{'all cards once (sum of p50)':<{width}}  {'':>6}  {sum(r[2] for r in rows):>8.1f}")


if __name__ == "__main__":
    main()
