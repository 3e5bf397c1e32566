"""Gate and load one lake partition into the warehouse `raw` schema: the one protocol every caller uses.

One transaction per partition:
1. COPY the partition's CSV into a temporary all-text staging table (`quality.set_based.stage_ddl`),
   then cast it once into the contract's types in a second one (`set_based.typed_ddl`: the casts the
   insert used to do, now shared with the gate);
2. the quality gate answers the partition's suite over the typed rows (`quality.gate.gate_staged`);
3. `load_partition` then replaces the partition in `raw.<source>_<entity>` from the typed rows (from
   the staged text, cast again, when GX decided); `gate_partition` stops before that;
4. the ledger row and the validation result are written, and the transaction commits.

A failure anywhere rolls the whole partition back, so the previous state stays intact. A partition
the gate rejects is never loaded: it is copied to the lake's quarantine zone with its validation
result, and the rejection is recorded in the ledger and in `ops.validation_results`.

The CLI, the demo and the DAG steps call these functions (through `shopflow.pipeline`). `warehouse`
is a DSN, or an open connection that a loop over many partitions reuses.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg2
from psycopg2 import sql

from shopflow.contracts import Entity
from shopflow.db import connect
from shopflow.errors import ShopflowError
from shopflow.lake import Lake, Partition
from shopflow.quality.outcome import QualityGateError, ValidationOutcome
from shopflow.quality.set_based import (
    STAGE_TABLE,
    header_matches,
    prepare_transaction,
    stage_ddl,
    typed_ddl,
    typed_select,
)
from shopflow.quality.suites import KnownInWarehouse, PartitionContext
from shopflow.warehouse.ops import record_validation, was_rejected, write_ledger
from shopflow.warehouse.raw_schema import RAW_SCHEMA, ensure_raw_schema

# Referential checks: which warehouse ids each entity's ids must be among (loaded before it, LOAD_ORDER).
KNOWN_IDS: dict[str, dict[str, tuple[str, str]]] = {
    "shop.order_items": {
        "known_product_ids": ("fakestore_products", "product_id"),
        "known_order_ids": ("shop_orders", "order_id"),
    },
    "clickstream.events": {"known_product_ids": ("fakestore_products", "product_id")},
}


class LoadError(ShopflowError, RuntimeError):
    """A partition could not be loaded; nothing of it was committed."""


@dataclass(frozen=True)
class LoadResult:
    """What happened to one partition: its batch, the gate's verdict and where the time went."""

    entity: str
    dt: date
    batch_id: str
    row_count: int
    loaded: bool  # False for gate_partition: validated and recorded only
    expectations_evaluated: int
    evaluated_by: str  # "set-based SQL" or "great_expectations"
    read_seconds: float  # lake: get, gunzip, checksum
    gate_seconds: float
    load_seconds: float  # staging COPY + typing (the casts) + replace + ledger + commit
    typing_seconds: float = 0.0  # of load_seconds: the casts into the typed table the checks read too


def batch_id_for(partition: Partition) -> str:
    """Deterministic: the same data for the same partition is the same batch."""
    m = partition.manifest
    return f"{m.entity}/{m.dt.isoformat()}/{m.sha256[:16]}"


@contextmanager
def _connection(warehouse: str | Any) -> Iterator[Any]:
    if isinstance(warehouse, str):
        with connect(warehouse) as conn:
            yield conn
    else:
        yield warehouse


def _stage(conn: Any, entity: Entity, partition: Partition) -> tuple[str | None, float | None]:
    """COPY the partition into the staging table, then cast it once into the typed table.

    Returns (why it could not be staged, or None; the typing's seconds, None when it was not typed).
    Anything short of typed leaves the partition to GX.
    """
    if not header_matches(entity, partition.csv_bytes):
        return "its header is not the contract's columns", None
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in entity.column_names)
    copy = sql.SQL("copy {} ({}) from stdin with (format csv, header true)").format(
        sql.Identifier(STAGE_TABLE), columns
    )
    with conn.cursor() as cur:
        cur.execute(stage_ddl(entity))
        cur.execute("savepoint staged")
        try:
            cur.copy_expert(copy.as_string(conn), io.BytesIO(partition.csv_bytes))
        except psycopg2.Error as err:
            cur.execute("rollback to savepoint staged")
            return str(err).strip(), None
        cur.execute("savepoint typed")
        started = time.perf_counter()
        try:
            cur.execute(typed_ddl(entity, partition.manifest.dt))
        except psycopg2.Error:  # a value PostgreSQL refuses: the staged text stays, for GX and the error
            cur.execute("rollback to savepoint typed")
            return None, None
    return None, time.perf_counter() - started


def _replace_partition(conn: Any, entity: Entity, partition: Partition, *, typed: bool) -> None:
    """Replace the partition's rows by the staged ones (in the caller's transaction).

    `typed`: the gate's fast path left the rows typed in `TYPED_TABLE` (read as they are); otherwise
    (GX decided) the staged text is cast here.
    """
    table = sql.Identifier(RAW_SCHEMA, entity.table)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in entity.column_names)
    if typed:
        select = typed_select(entity)
    else:
        casts = sql.SQL(", ").join(
            sql.SQL("nullif({}, '')::{}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in entity.columns
        )
        select = sql.SQL("select {} from {}").format(casts, sql.Identifier(STAGE_TABLE))
    with conn.cursor() as cur:
        cur.execute(sql.SQL("delete from {} where dt = %s").format(table), (partition.manifest.dt,))
        try:
            cur.execute(sql.SQL("insert into {} ({}) {}").format(table, columns, select))
        except psycopg2.Error as err:
            raise LoadError(
                f"{partition.data_key}: insert into {RAW_SCHEMA}.{entity.table} failed, nothing was loaded: "
                f"{str(err).strip()}"
            ) from err
        if cur.rowcount != partition.manifest.row_count:
            raise LoadError(
                f"{partition.data_key}: {cur.rowcount} rows reached {RAW_SCHEMA}.{entity.table} but the manifest "
                f"says {partition.manifest.row_count}; nothing was loaded"
            )


def partition_context(entity: Entity, partition: Partition) -> PartitionContext:
    """What the gate knows about a partition: its manifest, and where the ids it refers to live."""
    dt = partition.manifest.dt
    known: dict[str, Any] = {  # PartitionContext field -> where its ids live
        attr: KnownInWarehouse(table, column, dt)
        for attr, (table, column) in KNOWN_IDS.get(entity.qualified_name, {}).items()
    }
    return PartitionContext(
        entity=entity,
        dt=dt,
        manifest_row_count=partition.manifest.row_count,
        full_history=partition.manifest.full_history,
        **known,
    )


def _ledger(conn: Any, partition: Partition, batch_id: str, status: str, started: datetime, **fields: Any) -> None:
    write_ledger(
        conn,
        batch_id=batch_id,
        entity=partition.manifest.entity,
        dt=partition.manifest.dt,
        status=status,
        row_count=partition.manifest.row_count,
        sha256=partition.manifest.sha256,
        lake_key=partition.data_key,
        started=started,
        evaluated=fields.get("evaluated"),
        failed=fields.get("failed"),
        message=fields.get("message"),
    )


def _reject(
    conn: Any,
    lake: Lake,
    entity: Entity,
    partition: Partition,
    batch_id: str,
    outcome: ValidationOutcome,
    started: datetime,
) -> None:
    conn.rollback()
    lake.quarantine_partition(entity, partition.manifest.dt, outcome.result)
    _ledger(
        conn,
        partition,
        batch_id,
        "rejected",
        started,
        evaluated=outcome.evaluated,
        failed=len(outcome.failed),
        message=outcome.summary()[:4000],
    )
    record_validation(conn, outcome, batch_id)
    conn.commit()


def _run(
    lake: Lake,
    warehouse: str | Any,
    entity: Entity,
    dt: date,
    *,
    load: bool,
    expected_batch_id: str | None,
    partition: Partition | None = None,
) -> LoadResult:
    from shopflow.quality.gate import gate_staged

    started = datetime.now(UTC)
    t_read = time.perf_counter()
    if partition is None:
        partition = lake.read_partition(entity, dt)
    elif (partition.manifest.entity, partition.manifest.dt) != (entity.qualified_name, dt):
        raise ValueError(f"the partition given is {partition.data_key}, not {entity.qualified_name} of {dt}")
    batch_id = batch_id_for(partition)
    if expected_batch_id is not None and expected_batch_id != batch_id:
        raise LoadError(
            f"{partition.data_key} changed since it was validated (validated {expected_batch_id}, now "
            f"{batch_id}); validate it again before loading"
        )
    with _connection(warehouse) as conn:
        try:
            ensure_raw_schema(conn)
            t0 = time.perf_counter()
            with conn.cursor() as cur:
                prepare_transaction(cur)
            staging_error, typing_seconds = _stage(conn, entity, partition)
            t1 = time.perf_counter()
            with conn.cursor() as cur:
                outcome = gate_staged(
                    cur, partition_context(entity, partition), partition.csv_bytes, typed=typing_seconds is not None
                )
            t2 = time.perf_counter()
            if not outcome.success:
                _reject(conn, lake, entity, partition, batch_id, outcome, started)
                raise QualityGateError(outcome)
            try:
                if load:
                    if staging_error is not None:
                        raise LoadError(
                            f"{partition.data_key}: COPY into the staging table failed, nothing was loaded: {staging_error}"
                        )
                    # the typed rows when the checks passed them; the staged text, cast again, when GX did
                    by_set_based = (
                        outcome.result.get("meta", {}).get("shopflow", {}).get("evaluated_by") == "set-based SQL"
                    )
                    _replace_partition(conn, entity, partition, typed=by_set_based)
                    _ledger(conn, partition, batch_id, "loaded", started, evaluated=outcome.evaluated, failed=0)
            except LoadError as err:
                conn.rollback()
                _ledger(
                    conn, partition, batch_id, "failed", started, evaluated=outcome.evaluated, message=str(err)[:4000]
                )
                conn.commit()
                raise
            record_validation(conn, outcome, batch_id)
            # Only a partition rejected before can have a quarantine copy: spare the lake a listing.
            clear_quarantine = load and was_rejected(conn, entity.qualified_name, dt)
            conn.commit()
            t3 = time.perf_counter()
        except BaseException:
            conn.rollback()
            raise
    if clear_quarantine:
        lake.clear_quarantine(entity, dt)
    return LoadResult(
        entity=entity.qualified_name,
        dt=dt,
        batch_id=batch_id,
        row_count=partition.manifest.row_count,
        loaded=load,
        expectations_evaluated=outcome.evaluated,
        evaluated_by=str(outcome.result.get("meta", {}).get("shopflow", {}).get("evaluated_by", "")),
        read_seconds=t0 - t_read,
        gate_seconds=t2 - t1,
        load_seconds=(t1 - t0) + (t3 - t2),
        typing_seconds=typing_seconds or 0.0,
    )


def gate_partition(lake: Lake, warehouse: str | Any, entity: Entity, dt: date) -> LoadResult:
    """Validate a lake partition without loading it and record the verdict; raise QualityGateError on failure.

    The result's batch_id names the exact bytes validated: `load_partition(..., expected_batch_id=...)`
    refuses to load anything else.
    """
    return _run(lake, warehouse, entity, dt, load=False, expected_batch_id=None)


def load_partition(
    lake: Lake,
    warehouse: str | Any,
    entity: Entity,
    dt: date,
    *,
    expected_batch_id: str | None = None,
    partition: Partition | None = None,
) -> LoadResult:
    """Gate and load raw/<source>/<entity>/dt=<dt>/ into raw.<source>_<entity>, replacing that partition.

    The gate always runs, in the load's transaction. With `expected_batch_id` (from `gate_partition`), a
    partition that changed since is refused. `partition`: the partition already read from the lake
    (`Lake.read_partition`, checked against its manifest), e.g. by a caller reading ahead.
    """
    return _run(lake, warehouse, entity, dt, load=True, expected_batch_id=expected_batch_id, partition=partition)
