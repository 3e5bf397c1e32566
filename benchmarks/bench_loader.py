"""Loader throughput against plain `psql \\copy`, and quality-gate time next to load time.

A harness, not a test: it prints figures. It uses the configured services (`make services-up`),
in a scratch warehouse database and bucket that it drops afterwards.

    .venv/bin/python benchmarks/bench_loader.py [--rows 1000000] [--repeat 3] [--gate-rows 100000]

What is compared, for the same order_items partition (same bytes, same table with its primary key):
- shopflow: `load_partition(validate=False)`: read from S3, check manifest, gunzip, delete + COPY in one
  transaction, ledger row, commit;
- psql: `\\copy` of the uncompressed CSV file from local disk, in one transaction after the same delete.
Then the gate: `load_partition(validate=True)` on a smaller partition, validation and load timed apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import numpy as np
import psycopg2

from shopflow.config import load_settings
from shopflow.contracts import ORDER_ITEMS, ORDERS, PRODUCTS
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


def small_csv(entity, rows: list[list[object]]) -> bytes:
    body = [",".join(entity.column_names)] + [",".join(map(str, r)) for r in rows]
    return ("\n".join(body) + "\n").encode()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gate-rows", type=int, default=100_000)
    args = parser.parse_args()
    if not shutil.which("psql"):
        raise SystemExit("psql is needed for the baseline (apt-get install postgresql-client)")

    base = load_settings()
    tag = f"bench_{uuid.uuid4().hex[:6]}"
    admin = psycopg2.connect(base.embedded_dsn("postgres") if base.embedded_postgres else base.warehouse_dsn)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{tag}"')
    settings = dataclasses.replace(
        base,
        warehouse_dsn_external=base.embedded_dsn(tag),
        shop_dsn_external=base.shop_dsn,
        lake_bucket=tag.replace("_", "-"),
    )
    ensure_bucket(settings)
    lake = Lake(s3_client(settings), settings.lake_bucket)
    tmp = Path(tempfile.mkdtemp(prefix="shopflow-bench-"))
    try:
        conn = psycopg2.connect(settings.warehouse_dsn)
        ensure_raw_schema(conn)
        conn.close()
        csv_bytes = order_items_csv(args.rows)
        write_partition(lake, ORDER_ITEMS, DT, csv_bytes, args.rows, None)
        csv_path = tmp / "order_items.csv"
        csv_path.write_bytes(csv_bytes)
        csv_path.chmod(0o644)
        print(f"partition: {args.rows:,} order_items rows, {len(csv_bytes) / 1e6:.0f} MB of CSV")

        loader, copy_only, baseline = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = load_partition(lake, settings.warehouse_dsn, ORDER_ITEMS, DT, validate=False)
            loader.append(time.perf_counter() - started)
            copy_only.append(result.load_seconds)
            baseline.append(psql_copy(settings.warehouse_dsn, csv_path))
        med = statistics.median
        print(f"{'method':<44}{'median s':>10}{'rows/s':>12}")
        baseline_label = "psql \\copy (local file)"
        print(f"{baseline_label:<44}{med(baseline):>10.2f}{args.rows / med(baseline):>12,.0f}")
        print(
            f"{'shopflow load_partition (S3 -> COPY, end to end)':<44}{med(loader):>10.2f}"
            f"{args.rows / med(loader):>12,.0f}"
        )
        print(
            f"{'shopflow delete + COPY + ledger only':<44}{med(copy_only):>10.2f}{args.rows / med(copy_only):>12,.0f}"
        )
        print(
            f"ratio loader/psql throughput: end to end {med(baseline) / med(loader):.2f}, "
            f"COPY part {med(baseline) / med(copy_only):.2f}  (medians of {args.repeat} runs, same machine, same run)"
        )

        # The gate next to the load, on a partition whose references resolve.
        n = args.gate_rows
        write_partition(
            lake,
            PRODUCTS,
            DT,
            small_csv(
                PRODUCTS,
                [
                    [i, f"product {i}", 10.5, "d", "electronics", "https://example.com/i.png", 4.1, 10, DT]
                    for i in range(1, 21)
                ],
            ),
            20,
            None,
        )
        load_partition(lake, settings.warehouse_dsn, PRODUCTS, DT, validate=False)
        orders = [
            [o, 1, "2025-06-01 10:00:00+00", "paid", "paypal", "2025-06-01 10:00:00+00", "2025-06-01 10:00:00+00", DT]
            for o in range(1, n // 2 + 2)
        ]
        write_partition(lake, ORDERS, DT, small_csv(ORDERS, orders), len(orders), None)
        load_partition(lake, settings.warehouse_dsn, ORDERS, DT, validate=False)
        write_partition(lake, ORDER_ITEMS, DT, order_items_csv(n), n, None)
        load_partition(lake, settings.warehouse_dsn, ORDER_ITEMS, DT, validate=True)  # warm-up: GX import
        gate, load = [], []
        for _ in range(args.repeat):
            result = load_partition(lake, settings.warehouse_dsn, ORDER_ITEMS, DT, validate=True)
            gate.append(result.validation_seconds)
            load.append(result.load_seconds)
        print(
            f"gate on {n:,} order_items rows ({result.expectations_evaluated} expectations): "
            f"validation {med(gate):.2f} s, load {med(load):.2f} s, validation/load {med(gate) / med(load):.1f}x"
        )
    finally:
        lake.delete_keys(lake.list_keys(""))
        lake.client.delete_bucket(Bucket=settings.lake_bucket)
        admin.cursor().execute(f'drop database if exists "{tag}" with (force)')
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
