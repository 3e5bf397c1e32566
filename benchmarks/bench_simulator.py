"""Benchmark of the shop simulator: seconds per simulated year at scale 1 and 10, per day at scale 100.

A harness, not a test. It runs against the configured services (`shopflow services up`, or the
SHOP_DSN / S3_ENDPOINT_URL environment), in scratch databases and buckets it drops afterwards.

    .venv/bin/python benchmarks/bench_simulator.py                 # full run (a few minutes)
    .venv/bin/python benchmarks/bench_simulator.py --year-scales 1  # scale 1 only
"""

from __future__ import annotations

import argparse
import time
import uuid
from datetime import date, timedelta

import psycopg2

from shopflow.config import load_settings, replace_database
from shopflow.services.s3 import s3_client
from shopflow.sources.fakestore_client import fetch_products
from shopflow.sources.shop_simulator import simulate_days

VOLUME_SQL = """
select (select count(*) from customers),
       (select count(*) from orders),
       (select count(*) from order_items),
       (select coalesce(sum(i.quantity * i.unit_price), 0)
          from order_items i join orders o using (order_id)
         where o.status not in ('cancelled', 'returned'))
"""


class Scratch:
    def __init__(self, settings) -> None:
        self.settings = settings
        self.s3 = s3_client(settings)
        self.databases: list[str] = []
        self.buckets: list[str] = []

    def _admin(self, statement: str) -> None:
        conn = psycopg2.connect(replace_database(self.settings.shop_dsn, "postgres"))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()

    def new(self) -> tuple[str, str]:
        token = uuid.uuid4().hex[:10]
        self._admin(f"create database shop_bench_{token}")
        self.databases.append(f"shop_bench_{token}")
        self.s3.create_bucket(Bucket=f"shop-bench-{token}")
        self.buckets.append(f"shop-bench-{token}")
        return replace_database(self.settings.shop_dsn, f"shop_bench_{token}"), f"shop-bench-{token}"

    def close(self) -> None:
        for name in self.databases:
            self._admin(f"drop database if exists {name} with (force)")
        for bucket in self.buckets:
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                for start in range(0, len(keys), 1000):
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[start : start + 1000]})
            self.s3.delete_bucket(Bucket=bucket)


def run(scratch: Scratch, catalog: list[dict], first: date, days: int, scale: float) -> None:
    dsn, bucket = scratch.new()
    last = first + timedelta(days=days - 1)
    marks = [time.perf_counter()]
    summaries = simulate_days(
        dsn,
        scratch.s3,
        bucket,
        catalog,
        first,
        last,
        scale=scale,
        progress=lambda _d: marks.append(time.perf_counter()),
    )
    elapsed = marks[-1] - marks[0]
    # The first day opens the shop (launch cohort, faker pools): report the steady rate apart.
    steady = (marks[-1] - marks[1]) / (days - 1) if days > 1 else elapsed
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(VOLUME_SQL)
            customers, orders, items, revenue = cur.fetchone()
    finally:
        conn.close()
    events = sum(s.events for s in summaries)
    revenue = float(revenue)
    per_year = elapsed / days * 365
    print(
        f"scale {scale:g}, {days} days from {first}: {elapsed:.1f} s ({elapsed / days * 1000:.0f} ms/day, "
        f"{per_year:.0f} s per simulated year; first day {marks[1] - marks[0]:.2f} s, "
        f"then {steady * 1000:.0f} ms/day)"
    )
    print(
        f"  customers {customers:,}  orders {orders:,}  items {items:,}  events {events:,}  "
        f"objects {days * 24:,}  revenue ${revenue:,.0f} (not cancelled/returned)  "
        f"AOV ${revenue / max(orders, 1):.2f} per order"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-day", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--year-scales", type=float, nargs="*", default=[1.0, 10.0])
    parser.add_argument("--scale-100-days", type=int, default=7)
    args = parser.parse_args()
    settings = load_settings()
    catalog = fetch_products(settings.fakestore_api_url)
    scratch = Scratch(settings)
    try:
        for scale in args.year_scales:
            run(scratch, catalog, args.first_day, 365, scale)
        if args.scale_100_days:
            run(scratch, catalog, args.first_day, args.scale_100_days, 100.0)
    finally:
        scratch.close()


if __name__ == "__main__":
    main()
