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


def _known_ids(cur, table: str, column: str, dt: date) -> frozenset[int]:
    """Ids already in the warehouse up to `dt` (the day's products and orders load before their lines)."""
    cur.execute(
        sql.SQL("select distinct {col} from {schema}.{table} where dt <= %s").format(
            col=sql.Identifier(column), schema=sql.Identifier(RAW_SCHEMA), table=sql.Identifier(table)
        ),
        (dt,),
    )
    return frozenset(row[0] for row in cur.fetchall())


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


def _validate(conn, lake: Lake, entity: Entity, partition: Partition, batch_id: str, started: datetime):
    """Run the quality gate on the partition; on failure quarantine it, record the rejection and raise."""
    from shopflow.quality.gate import QualityGateError, record_validation
    from shopflow.quality.gate import gate_partition as run_gate
    from shopflow.quality.suites import PartitionContext

    dt = partition.manifest.dt
    known_products = known_orders = None
    with conn.cursor() as cur:
        if entity.qualified_name in ("shop.order_items", "clickstream.events"):
            known_products = _known_ids(cur, "fakestore_products", "product_id", dt)
        if entity.qualified_name == "shop.order_items":
            known_orders = _known_ids(cur, "shop_orders", "order_id", dt)
    context = PartitionContext(
        entity=entity,
        dt=dt,
        manifest_row_count=partition.manifest.row_count,
        known_product_ids=known_products,
        known_order_ids=known_orders,
        full_history=partition.manifest.full_history,
    )
    try:
        return run_gate(context, partition.csv_bytes)
    except QualityGateError as rejection:
        outcome = rejection.outcome
        conn.rollback()
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
        raise


def gate_partition(lake: Lake, warehouse_dsn: str, entity: Entity, dt: date) -> str:
    """Validate a lake partition without loading it; return its batch id (raise QualityGateError on failure).

    The passing result is recorded in ops.validation_results, so a later `load_partition(...,
    validated_batch_id=...)` can load exactly these bytes without validating again.
    """
    from shopflow.quality.gate import record_validation

    started = datetime.now(UTC)
    partition = lake.read_partition(entity, dt)
    batch_id = batch_id_for(partition)
    conn = psycopg2.connect(warehouse_dsn)
    try:
        ensure_raw_schema(conn)
        outcome = _validate(conn, lake, entity, partition, batch_id, started)
        record_validation(conn, outcome, batch_id)
        conn.commit()
    finally:
        conn.close()
    return batch_id


def _validation_evaluated(conn, batch_id: str, entity: Entity) -> int | None:
    """Expectations evaluated by the passing validation recorded for this exact batch, else None."""
    from shopflow.quality.gate import ensure_validation_results_table

    ensure_validation_results_table(conn)
    with conn.cursor() as cur:
        cur.execute(
            "select evaluated from ops.validation_results where batch_id = %s and entity = %s and success",
            (batch_id, entity.qualified_name),
        )
        row = cur.fetchone()
    return row[0] if row else None


def _copy_partition(conn, entity: Entity, partition: Partition) -> None:
    """Replace the partition's rows with the lake data (in the caller's transaction)."""
    table = sql.SQL("{}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(entity.table))
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in entity.column_names)
    copy = sql.SQL("copy {} ({}) from stdin with (format csv, header true)").format(table, columns)
    with conn.cursor() as cur:
        cur.execute(sql.SQL("delete from {} where dt = %s").format(table), (partition.manifest.dt,))
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


def load_partition(
    lake: Lake,
    warehouse_dsn: str,
    entity: Entity,
    dt: date,
    *,
    validate: bool = True,
    validated_batch_id: str | None = None,
) -> LoadResult:
    """Validate and load raw/<source>/<entity>/dt=<dt>/ into raw.<source>_<entity>, replacing that partition.

    With `validated_batch_id` (from `gate_partition`) and validate=False, the partition is loaded only if
    it is still that exact batch and its passing validation is on record.
    """
    from shopflow.quality.gate import record_validation

    started = datetime.now(UTC)
    partition = lake.read_partition(entity, dt)
    batch_id = batch_id_for(partition)
    if validated_batch_id is not None and validated_batch_id != batch_id:
        raise LoadError(
            f"{partition.data_key} changed since it was validated (validated {validated_batch_id}, now "
            f"{batch_id}); validate it again before loading"
        )
    conn = psycopg2.connect(warehouse_dsn)
    try:
        ensure_raw_schema(conn)
        t0 = time.perf_counter()
        outcome, evaluated = None, None
        if validate:
            outcome = _validate(conn, lake, entity, partition, batch_id, started)
            evaluated = outcome.evaluated
        elif validated_batch_id is not None:
            evaluated = _validation_evaluated(conn, batch_id, entity)
            if evaluated is None:
                raise LoadError(f"{partition.data_key}: no passing validation is recorded for batch {batch_id}")
        t1 = time.perf_counter()
        try:
            _copy_partition(conn, entity, partition)
        except LoadError as err:
            conn.rollback()
            with conn.cursor() as cur:
                _write_ledger(cur, batch_id, entity, dt, "failed", partition, evaluated, None, str(err)[:4000], started)
            conn.commit()
            raise
        with conn.cursor() as cur:
            failed = 0 if evaluated is not None else None
            _write_ledger(cur, batch_id, entity, dt, "loaded", partition, evaluated, failed, None, started)
        if outcome is not None:
            record_validation(conn, outcome, batch_id)
        conn.commit()
        t2 = time.perf_counter()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
    lake.clear_quarantine(entity, dt)
    return LoadResult(
        entity=entity.qualified_name,
        dt=dt,
        batch_id=batch_id,
        row_count=partition.manifest.row_count,
        validated=evaluated is not None,
        expectations_evaluated=evaluated or 0,
        validation_seconds=t1 - t0,
        load_seconds=t2 - t1,
    )
