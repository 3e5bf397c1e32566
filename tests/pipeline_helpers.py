"""Shared helpers for tests that run pipeline stages on isolated databases and buckets."""

from __future__ import annotations

import gzip
import io
from datetime import date

import psycopg2

from shopflow.config import Settings
from shopflow.contracts import ENTITIES
from shopflow.lake import Lake
from shopflow.pipeline import Pipeline

# Each entity ("shop.orders") and its raw table ("raw.shop_orders").
RAW_TABLES = {name: f"raw.{entity.table}" for name, entity in ENTITIES.items()}


def simulate(settings: Settings, first: date, last: date, scale: float = 1.0, seed: int = 7) -> list:
    """Advance the isolated shop over [first, last] with the catalog served by the stack's API."""
    return Pipeline.from_settings(settings.with_simulation(scale=scale, seed=seed)).simulate(first, last)


def query(dsn: str, statement: str, params: tuple = ()) -> list[tuple]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        rows = cur.fetchall() if cur.description else []
    conn.close()
    return rows


def table_checksum(dsn: str, table: str, dt: date | None = None) -> tuple[int, str]:
    """(rows, md5 of all data columns in key order) for a raw table, optionally one partition."""
    where = "where dt = %s" if dt else ""
    rows = query(
        dsn,
        f"select count(*), md5(coalesce(string_agg(x, '|' order by x), '')) from "
        f"(select (to_jsonb(s) - '_loaded_at')::text as x from {table} s {where}) q",
        (dt,) if dt else (),
    )
    return rows[0]


def gzip_lines(lines: list[str]) -> bytes:
    return gzip.compress(("\n".join(lines) + "\n").encode())


def csv_text(lake: Lake, key: str) -> str:
    return gzip.decompress(lake.get(key)).decode()


def read_csv_rows(lake: Lake, key: str) -> list[dict]:
    import csv

    return list(csv.DictReader(io.StringIO(csv_text(lake, key))))
