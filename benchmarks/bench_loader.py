"""Loader throughput against plain `psql \\copy`, and the quality gate's time next to the load's.

A harness, not a test: it prints figures. It uses the configured services (`make services-up`),
in a scratch warehouse database and bucket that it drops afterwards.

    .venv/bin/python benchmarks/bench_loader.py [--rows 1000000] [--repeat 3] [--sizes 1000,100000,1000000]

1. Throughput, for the same order_items partition (same bytes, same table with its primary key):
   `load_partition` (read from S3, check manifest, gunzip, stage, gate, insert, ledger, commit) against
   `psql \\copy` of the uncompressed CSV from local disk after the same delete.
2. Gate against load for order_items partitions of each size in `--sizes`, whose product and order ids
   resolve (so the gate passes): medians of `--repeat` runs of `load_partition`, its gate part
   (`gate_seconds`) and its load part (`load_seconds`: staging COPY, typing, delete, insert, ledger,
   commit). The typing (the casts into the typed table, which the insert and the checks both read) is
   shown on its own, with the ratio it gives when counted in the gate instead.
3. The process's peak RSS over the whole run.
Targets (issue "the quality gate at the speed of the load"): gate <= 0.5x load at 1M rows, <= 50 ms
per partition of <= 1,000 rows, peak RSS under 1 GB.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg2

from shopflow.config import load_settings
from shopflow.contracts import ORDER_ITEMS
from shopflow.extract import write_partition
from shopflow.lake import Lake
from shopflow.services.s3 import ensure_bucket, s3_client
from shopflow.warehouse.loader import load_partition
from shopflow.warehouse.raw_schema import ensure_raw_schema

DT = date(2025, 6, 1)


def order_items_csv(rows: int, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    order_ids = ids // 2 + 1
    products = rng.integers(1, 21, rows)
    quantity = rng.integers(1, 4, rows)
    cents = rng.integers(795, 99999, rows)
    seconds = np.sort(rng.integers(0, 86400, rows))
    stamps = [f"2025-06-01 {s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}+00" for s in seconds]
    lines = ["order_item_id,order_id,product_id,quantity,unit_price,created_at,updated_at,dt"]
    lines.extend(
        f"{i},{o},{p},{q},{c // 100}.{c % 100:02d},{t},{t},2025-06-01"
        for i, o, p, q, c, t in zip(ids, order_ids, products, quantity, cents, stamps, strict=True)
    )
    return ("\n".join(lines) + "\n").encode()


def psql_copy(dsn: str, csv_path: Path) -> float:
    columns = ", ".join(ORDER_ITEMS.column_names)
    script = (
        "begin;\n"
        f"delete from raw.shop_order_items where dt = '{DT}';\n"
        f"\\copy raw.shop_order_items ({columns}) from '{csv_path}' with (format csv, header true)\n"
        "commit;\n"
    )
    started = time.perf_counter()
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", dsn], input=script, text=True, check=True)
    return time.perf_counter() - started


def _seed_references(dsn: str, orders: int) -> None:
    """Products 1-20 and orders 1..`orders` in raw, the day before DT: what the partitions' ids refer to."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("truncate raw.fakestore_products, raw.shop_orders")
        cur.execute(
            "insert into raw.fakestore_products (product_id, title, price, description, category, image, "
            "rating_rate, rating_count, dt) select i, 'p', 10.5, 'd', 'electronics', 'https://example.com/i.png', "
            "4.1, 10, %s from generate_series(1, 20) i",
            (DT - timedelta(days=1),),
        )
        cur.execute(
            "insert into raw.shop_orders (order_id, customer_id, ordered_at, status, payment_method, created_at, "
            "updated_at, dt) select i, 1, %s, 'paid', 'paypal', %s, %s, %s from generate_series(1, %s) i",
            (*[datetime(2025, 5, 31, tzinfo=UTC)] * 3, DT - timedelta(days=1), orders),
        )
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="1000,100000,1000000")
    args = parser.parse_args()
    if not shutil.which("psql"):
        raise SystemExit("psql is needed for the baseline (apt-get install postgresql-client)")
    sizes = [int(x) for x in args.sizes.split(",")]

    base = load_settings()
    tag = f"bench_{uuid.uuid4().hex[:6]}"
    admin = psycopg2.connect(base.embedded_dsn("postgres") if base.embedded_postgres else base.warehouse_dsn)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{tag}"')
    settings = base.replace(
        warehouse_dsn_external=base.embedded_dsn(tag),
        shop_dsn_external=base.shop_dsn,
        lake_bucket=tag.replace("_", "-"),
    )
    ensure_bucket(settings)
    lake = Lake(s3_client(settings), settings.lake_bucket)
    tmp = Path(tempfile.mkdtemp(prefix="shopflow-bench-"))
    med = statistics.median
    try:
        conn = psycopg2.connect(settings.warehouse_dsn)
        ensure_raw_schema(conn)
        conn.close()
        _seed_references(settings.warehouse_dsn, max([args.rows, *sizes]) // 2 + 1)

        # 1. throughput against psql \copy
        csv_bytes = order_items_csv(args.rows)
        write_partition(lake, ORDER_ITEMS, DT, csv_bytes, args.rows, None)
        csv_path = tmp / "order_items.csv"
        csv_path.write_bytes(csv_bytes)
        csv_path.chmod(0o644)
        del csv_bytes
        print(f"1. throughput: {args.rows:,} order_items rows, {csv_path.stat().st_size / 1e6:.0f} MB of CSV")
        load_partition(lake, settings.warehouse_dsn, ORDER_ITEMS, DT)  # warm-up
        loader, baseline = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            load_partition(lake, settings.warehouse_dsn, ORDER_ITEMS, DT)
            loader.append(time.perf_counter() - started)
            baseline.append(psql_copy(settings.warehouse_dsn, csv_path))
        print(f"   {'method':<52}{'median s':>10}{'rows/s':>12}")
        baseline_label = "psql \\copy (local file, no gate)"
        print(f"   {baseline_label:<52}{med(baseline):>10.2f}{args.rows / med(baseline):>12,.0f}")
        print(
            f"   {'shopflow load_partition (S3, gate, load, end to end)':<52}{med(loader):>10.2f}"
            f"{args.rows / med(loader):>12,.0f}"
        )
        print(f"   throughput ratio shopflow/psql: {med(baseline) / med(loader):.2f}")

        # 2. the gate next to the load
        print(f"2. gate vs load, order_items, medians of {args.repeat} runs (gate + load = the whole transaction)")
        print(
            f"   {'rows':>10}{'gate s':>10}{'load s':>10}{'gate/load':>11}{'gate ms/partition':>19}"
            f"{'typing s':>10}{'(gate+typing)/rest':>20}  evaluated by"
        )
        for n in sizes:
            write_partition(lake, ORDER_ITEMS, DT, order_items_csv(n), n, None)
            load_partition(lake, settings.warehouse_dsn, ORDER_ITEMS, DT)  # warm-up
            gate, load, typing = [], [], []
            for _ in range(max(args.repeat, 5 if n <= 10_000 else 1)):
                result = load_partition(lake, settings.warehouse_dsn, ORDER_ITEMS, DT)
                gate.append(result.gate_seconds)
                load.append(result.load_seconds)
                typing.append(result.typing_seconds)
            shifted = (med(gate) + med(typing)) / (med(load) - med(typing))
            print(
                f"   {n:>10,}{med(gate):>10.3f}{med(load):>10.3f}{med(gate) / med(load):>10.2f}x"
                f"{med(gate) * 1000:>19.1f}{med(typing):>10.3f}{shifted:>19.2f}x"
                f"  {result.evaluated_by} ({result.expectations_evaluated} expectations)"
            )
        # 3. memory
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"3. peak RSS of this process over the run: {peak:,.0f} MB")
    finally:
        lake.delete_keys(lake.list_keys(""))
        lake.client.delete_bucket(Bucket=settings.lake_bucket)
        admin.cursor().execute(f'drop database if exists "{tag}" with (force)')
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
