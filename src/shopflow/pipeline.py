"""The daily pipeline as plain functions: extract a date, gate and load a date, run a date range.

The CLI, the demo and the Airflow task bodies (`orchestration.steps`) all call these; each works on
one logical date and can be re-run. Gating and loading go through `warehouse.loader`, the one
protocol: stage the partition in the load's transaction, gate it there, then load or quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from shopflow.config import Settings
from shopflow.contracts import LOAD_ORDER, get_entity
from shopflow.extract import ExtractResult
from shopflow.lake import Lake, Partition
from shopflow.services.s3 import s3_client
from shopflow.warehouse.loader import LoadResult, gate_partition, load_partition

if TYPE_CHECKING:
    from pathlib import Path


def open_lake(settings: Settings) -> Lake:
    return Lake(s3_client(settings), settings.lake_bucket)


def date_range(first: date, last: date) -> Iterator[date]:
    """Every date from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def extract_entity(settings: Settings, lake: Lake, entity_name: str, dt: date, force: bool = False) -> ExtractResult:
    """Extract one entity for one date into the lake's raw zone (sealed partitions are kept unless forced)."""
    entity = get_entity(entity_name)
    if entity.source == "fakestore":
        from shopflow.extract.products import extract_products

        return extract_products(lake, settings.fakestore_api_url, dt, force=force)
    if entity.source == "shop":
        from shopflow.extract.shop_tables import extract_shop_table

        return extract_shop_table(lake, settings.shop_dsn, entity, dt, force=force)
    from shopflow.extract.clickstream import extract_clickstream

    return extract_clickstream(lake, dt)


def gate_entity(settings: Settings, lake: Lake, entity_name: str, dt: date, conn: Any = None) -> LoadResult:
    """Validate one entity's partition for one date and record the verdict, without loading it.

    Raises QualityGateError (after quarantining the partition) when it fails.
    """
    return gate_partition(lake, conn or settings.warehouse_dsn, get_entity(entity_name), dt)


def load_entity(
    settings: Settings,
    lake: Lake,
    entity_name: str,
    dt: date,
    conn: Any = None,
    expected_batch_id: str | None = None,
    partition: Partition | None = None,
) -> LoadResult:
    """Gate and load one entity's partition for one date (an open warehouse `conn` is reused if given).

    With `expected_batch_id` (from `gate_entity`), a partition that changed since it was gated is refused.
    `partition`: already read from the lake (by a caller reading ahead).
    """
    return load_partition(
        lake,
        conn or settings.warehouse_dsn,
        get_entity(entity_name),
        dt,
        expected_batch_id=expected_batch_id,
        partition=partition,
    )


def run_date(
    settings: Settings,
    lake: Lake,
    dt: date,
    entities: Sequence[str] = LOAD_ORDER,
    on_step: Callable[[str, str], None] | None = None,
) -> tuple[list[ExtractResult], list[LoadResult]]:
    """Extract, then validate and load, every entity for `dt`; stops at the first failure.

    Products and orders load before the lines that reference them, so the referential checks see them.
    """
    import psycopg2

    extracted, loaded = [], []
    for name in entities:
        if on_step:
            on_step("extract", name)
        extracted.append(extract_entity(settings, lake, name, dt))
    conn = psycopg2.connect(settings.warehouse_dsn)
    try:
        for name in entities:
            if on_step:
                on_step("load", name)
            loaded.append(load_entity(settings, lake, name, dt, conn))
    finally:
        conn.close()
    return extracted, loaded


def rebuild_from_lake(settings: Settings, lake: Lake, on_partition: Callable[[date, str], None] | None = None) -> int:
    """Empty the raw tables and load every lake partition again, date by date; returns partitions loaded.

    The lake is the system of record: this reproduces the warehouse's raw schema exactly.
    """
    import psycopg2

    from shopflow.contracts import ENTITIES
    from shopflow.warehouse.raw_schema import RAW_SCHEMA, ensure_raw_schema

    available = {name: set(lake.partition_dates(get_entity(name))) for name in LOAD_ORDER}
    dates = sorted(set().union(*available.values()))
    conn = psycopg2.connect(settings.warehouse_dsn)
    try:
        ensure_raw_schema(conn)
        with conn.cursor() as cur:
            cur.execute("truncate " + ", ".join(f"{RAW_SCHEMA}.{e.table}" for e in ENTITIES.values()))
        conn.commit()
        loaded = 0
        for dt in dates:
            for name in LOAD_ORDER:
                if dt in available[name]:
                    load_entity(settings, lake, name, dt, conn)
                    loaded += 1
                    if on_partition:
                        on_partition(dt, name)
    finally:
        conn.close()
    return loaded


def build_data_docs_from_ops(warehouse_dsn: str, limit: int) -> Path:
    """Render Data Docs for the latest `limit` outcomes recorded in ops.validation_results."""
    import psycopg2

    from shopflow.quality.data_docs import build_data_docs
    from shopflow.warehouse.ops import load_outcomes

    with psycopg2.connect(warehouse_dsn) as conn:
        outcomes = load_outcomes(conn, limit=limit)
    conn.close()
    return build_data_docs(outcomes)
