"""Load one lake partition into the warehouse `raw` schema, behind the quality gate.

One transaction per partition: delete the partition's earlier rows, COPY the new ones, check the
count against the manifest, record the batch in the ledger, commit. A failure anywhere rolls the
whole partition back, so the previous state stays intact. A partition that fails the quality gate
is never loaded: it is copied to the lake's quarantine zone with its validation result.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

import psycopg2
from psycopg2 import sql

from shopflow.contracts import Entity
from shopflow.lake import Lake, Partition
from shopflow.warehouse.raw_schema import OPS_SCHEMA, RAW_SCHEMA, ensure_raw_schema


class LoadError(RuntimeError):
    """A partition could not be loaded; nothing of it was committed."""


@dataclass(frozen=True)
class LoadResult:
    entity: str
    dt: date
    batch_id: str
    row_count: int
    validated: bool
    expectations_evaluated: int
    validation_seconds: float
    load_seconds: float


def batch_id_for(partition: Partition) -> str:
    """Deterministic: the same data for the same partition is the same batch."""
    m = partition.manifest
    return f"{m.entity}/{m.dt.isoformat()}/{m.sha256[:16]}"


def _known_ids(cur, table: str, column: str, dt: date, extra: set[int]) -> frozenset[int]:
    cur.execute(
        sql.SQL("select distinct {col} from {schema}.{table} where dt <= %s").format(
            col=sql.Identifier(column), schema=sql.Identifier(RAW_SCHEMA), table=sql.Identifier(table)
        ),
        (dt,),
    )
    return frozenset(row[0] for row in cur.fetchall()) | frozenset(extra)


def _write_ledger(
    cur,
    batch_id: str,
    entity: Entity,
    dt: date,
    status: str,
    partition: Partition,
    evaluated: int | None,
    failed: int | None,
    message: str | None,
    started: datetime,
) -> None:
    cur.execute(
        f"""
        insert into {OPS_SCHEMA}.load_ledger
            (batch_id, entity, dt, status, row_count, sha256, lake_key, expectations_evaluated,
             expectations_failed, message, started_at, finished_at)
        values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
        on conflict (batch_id) do update set
            status = excluded.status, row_count = excluded.row_count,
            expectations_evaluated = excluded.expectations_evaluated,
            expectations_failed = excluded.expectations_failed, message = excluded.message,
            started_at = excluded.started_at, finished_at = excluded.finished_at
        """,
        (
            batch_id,
            entity.qualified_name,
            dt,
            status,
            partition.manifest.row_count,
            partition.manifest.sha256,
            partition.data_key,
            evaluated,
            failed,
            message,
            started,
        ),
    )


def _gate(conn, lake: Lake, entity: Entity, partition: Partition, batch_id: str, started: datetime):
    """Validate the partition; on failure quarantine it, record the rejection and raise."""
    from shopflow.quality.frames import read_partition_frame
    from shopflow.quality.gate import QualityGateError, record_validation, validate_partition
    from shopflow.quality.suites import PartitionContext

    dt = partition.manifest.dt
    frame = read_partition_frame(entity, partition.csv_bytes)
    known_products = known_orders = None
    with conn.cursor() as cur:
        if entity.qualified_name in ("shop.order_items", "clickstream.events"):
            known_products = _known_ids(cur, "fakestore_products", "product_id", dt, set())
        if entity.qualified_name == "shop.order_items":
            known_orders = _known_ids(cur, "shop_orders", "order_id", dt, set())
    context = PartitionContext(
        entity=entity,
        dt=dt,
        manifest_row_count=partition.manifest.row_count,
        known_product_ids=known_products,
        known_order_ids=known_orders,
        full_history=partition.manifest.full_history,
    )
    outcome = validate_partition(context, frame)
    if outcome.success:
        return outcome
    lake.quarantine_partition(entity, dt, outcome.result)
    with conn.cursor() as cur:
        _write_ledger(
            cur,
            batch_id,
            entity,
            dt,
            "rejected",
            partition,
            outcome.evaluated,
            len(outcome.failed),
            outcome.summary()[:4000],
            started,
        )
    record_validation(conn, outcome, batch_id)
    conn.commit()
    raise QualityGateError(outcome)


def load_partition(lake: Lake, warehouse_dsn: str, entity: Entity, dt: date, *, validate: bool = True) -> LoadResult:
    """Validate and load raw/<source>/<entity>/dt=<dt>/ into raw.<source>_<entity>, replacing that partition."""
    started = datetime.now(UTC)
    partition = lake.read_partition(entity, dt)
    batch_id = batch_id_for(partition)
    conn = psycopg2.connect(warehouse_dsn)
    try:
        ensure_raw_schema(conn)
        t0 = time.perf_counter()
        outcome = _gate(conn, lake, entity, partition, batch_id, started) if validate else None
        t1 = time.perf_counter()
        table = sql.SQL("{}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(entity.table))
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in entity.column_names)
        with conn.cursor() as cur:
            cur.execute(sql.SQL("delete from {} where dt = %s").format(table), (dt,))
            copy = sql.SQL("copy {} ({}) from stdin with (format csv, header true)").format(table, columns)
            try:
                cur.copy_expert(copy.as_string(conn), io.BytesIO(partition.csv_bytes))
            except psycopg2.Error as err:
                raise LoadError(
                    f"{partition.data_key}: COPY into {RAW_SCHEMA}.{entity.table} failed, nothing was loaded: "
                    f"{str(err).strip()}"
                ) from err
            if cur.rowcount != partition.manifest.row_count:
                raise LoadError(
                    f"{partition.data_key}: COPY loaded {cur.rowcount} rows but the manifest says "
                    f"{partition.manifest.row_count}; nothing was loaded"
                )
            evaluated = outcome.evaluated if outcome else None
            _write_ledger(
                cur, batch_id, entity, dt, "loaded", partition, evaluated, 0 if outcome else None, None, started
            )
        if outcome is not None:
            from shopflow.quality.gate import record_validation

            record_validation(conn, outcome, batch_id)
        conn.commit()
        lake.clear_quarantine(entity, dt)
        t2 = time.perf_counter()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
    return LoadResult(
        entity.qualified_name,
        dt,
        batch_id,
        partition.manifest.row_count,
        outcome is not None,
        outcome.evaluated if outcome else 0,
        t1 - t0,
        t2 - t1,
    )
