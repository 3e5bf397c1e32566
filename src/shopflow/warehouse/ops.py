"""The `ops` schema, and every statement that reads or writes it: the load ledger and the validation results.

- `ops.load_ledger`: one row per batch (a partition's exact bytes): loaded, rejected by the gate, or failed.
- `ops.validation_results`: one row per (batch_id, suite target): the gate's verdict on a raw partition or
  a mart, with the readable failures and the GX result document.

Writers take the caller's connection and never commit: a verdict is recorded in the same transaction
as the load it allowed (or the rejection it caused).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopflow.quality.outcome import ValidationOutcome

OPS_SCHEMA = "ops"
LOAD_LEDGER = f"{OPS_SCHEMA}.load_ledger"
VALIDATION_RESULTS = f"{OPS_SCHEMA}.validation_results"
LEDGER_STATUSES = ("loaded", "rejected", "failed")

_DDL = (
    f"create schema if not exists {OPS_SCHEMA}",
    f"""
    create table if not exists {LOAD_LEDGER} (
        batch_id text primary key,
        entity text not null,
        dt date not null,
        status text not null check (status in ('loaded', 'rejected', 'failed')),
        row_count bigint,
        sha256 text,
        lake_key text not null,
        expectations_evaluated integer,
        expectations_failed integer,
        message text,
        started_at timestamptz not null,
        finished_at timestamptz not null
    )
    """,
    f"create index if not exists load_ledger_entity_dt_idx on {LOAD_LEDGER} (entity, dt)",
    f"""
    create table if not exists {VALIDATION_RESULTS} (
        entity text not null,
        dt date not null,
        batch_id text not null,
        suite text not null,
        success boolean not null,
        evaluated integer not null,
        failed integer not null,
        summary text not null,
        failures jsonb not null,
        result jsonb not null,
        validated_at timestamptz not null,
        primary key (batch_id, entity)
    )
    """,
    f"create index if not exists validation_results_entity_dt_idx on {VALIDATION_RESULTS} (entity, dt)",
)


def ensure_ops_schema(conn: Any) -> None:
    """Create the ops schema and its tables when missing, in the caller's transaction.

    Checks first: even `create index if not exists` takes a table lock, which would queue every load
    behind any open transaction on the table.
    """
    with conn.cursor() as cur:
        cur.execute(
            "select to_regclass(%s) is not null and to_regclass(%s) is not null", (LOAD_LEDGER, VALIDATION_RESULTS)
        )
        if cur.fetchone()[0]:
            return
        for statement in _DDL:
            cur.execute(statement)


def _exists(cur: Any, table: str) -> bool:
    cur.execute("select to_regclass(%s) is not null", (table,))
    return bool(cur.fetchone()[0])


# --- the load ledger --------------------------------------------------------------------------------
def write_ledger(
    conn: Any,
    *,
    batch_id: str,
    entity: str,
    dt: date,
    status: str,
    row_count: int,
    sha256: str,
    lake_key: str,
    evaluated: int | None,
    failed: int | None,
    message: str | None,
    started: datetime,
) -> None:
    """Upsert the batch's ledger row (status loaded, rejected or failed); the caller commits."""
    if status not in LEDGER_STATUSES:
        raise ValueError(f"ledger status must be one of {', '.join(LEDGER_STATUSES)}, got {status!r}")
    with conn.cursor() as cur:
        cur.execute(
            f"""
            insert into {LOAD_LEDGER}
                (batch_id, entity, dt, status, row_count, sha256, lake_key, expectations_evaluated,
                 expectations_failed, message, started_at, finished_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())
            on conflict (batch_id) do update set
                status = excluded.status, row_count = excluded.row_count,
                expectations_evaluated = excluded.expectations_evaluated,
                expectations_failed = excluded.expectations_failed, message = excluded.message,
                started_at = excluded.started_at, finished_at = excluded.finished_at
            """,
            (batch_id, entity, dt, status, row_count, sha256, lake_key, evaluated, failed, message, started),
        )


def partition_is_loaded(conn: Any, entity: str, dt: date) -> bool:
    """Whether the ledger records a loaded batch of `entity` for `dt`."""
    with conn.cursor() as cur:
        if not _exists(cur, LOAD_LEDGER):
            return False
        cur.execute(
            f"select exists (select 1 from {LOAD_LEDGER} where entity = %s and dt = %s and status = 'loaded')",
            (entity, dt),
        )
        return bool(cur.fetchone()[0])


def was_rejected(conn: Any, entity: str, dt: date) -> bool:
    """Whether the ledger records a rejected batch of `entity` for `dt` (its data may be in quarantine)."""
    with conn.cursor() as cur:
        cur.execute(
            f"select exists (select 1 from {LOAD_LEDGER} where entity = %s and dt = %s and status = 'rejected')",
            (entity, dt),
        )
        return bool(cur.fetchone()[0])


def latest_loaded_dates(conn: Any, entities: list[str]) -> dict[str, date]:
    """The latest loaded partition date of each of `entities` that has one."""
    with conn.cursor() as cur:
        if not _exists(cur, LOAD_LEDGER):
            return {}
        cur.execute(
            f"select entity, max(dt) from {LOAD_LEDGER} where status = 'loaded' and entity = any(%s) group by entity",
            (list(entities),),
        )
        return dict(cur.fetchall())


# --- validation results -------------------------------------------------------------------------------
def record_validation(conn: Any, outcome: ValidationOutcome, batch_id: str) -> None:
    """Upsert the outcome into `ops.validation_results` keyed by (batch_id, entity); the caller commits."""
    from shopflow.quality.outcome import json_safe

    if not batch_id:
        raise ValueError("record_validation needs a batch_id (the load ledger's id of this batch)")
    ensure_ops_schema(conn)
    with conn.cursor() as cur:
        cur.execute(
            f"""
            insert into {VALIDATION_RESULTS}
                (entity, dt, batch_id, suite, success, evaluated, failed, summary, failures, result, validated_at)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s)
            on conflict (batch_id, entity) do update set
                dt = excluded.dt, suite = excluded.suite, success = excluded.success,
                evaluated = excluded.evaluated, failed = excluded.failed, summary = excluded.summary,
                failures = excluded.failures, result = excluded.result, validated_at = excluded.validated_at
            """,
            (
                outcome.entity,
                outcome.dt,
                batch_id,
                outcome.suite_name,
                outcome.success,
                outcome.evaluated,
                len(outcome.failed),
                outcome.summary(),
                json.dumps([f.to_dict() for f in outcome.failed]),
                json.dumps(json_safe(outcome.result)),
                outcome.validated_at,
            ),
        )


def passing_validation(conn: Any, batch_id: str, entity: str) -> int | None:
    """Expectations evaluated by the passing validation recorded for this exact batch, else None."""
    with conn.cursor() as cur:
        if not _exists(cur, VALIDATION_RESULTS):
            return None
        cur.execute(
            f"select evaluated from {VALIDATION_RESULTS} where batch_id = %s and entity = %s and success",
            (batch_id, entity),
        )
        row = cur.fetchone()
    return row[0] if row else None


def load_outcomes(conn: Any, *, limit: int = 500, entity: str | None = None) -> list[ValidationOutcome]:
    """The latest `limit` recorded outcomes (newest first), optionally of one entity."""
    from shopflow.quality.outcome import FailedExpectation, ValidationOutcome

    with conn.cursor() as cur:
        if not _exists(cur, VALIDATION_RESULTS):
            return []
        where = "where entity = %s" if entity else ""
        params: tuple = (entity, limit) if entity else (limit,)
        cur.execute(
            f"""select entity, dt, suite, success, evaluated, failures, result, validated_at
            from {VALIDATION_RESULTS} {where} order by validated_at desc limit %s""",
            params,
        )
        rows = cur.fetchall()
    outcomes = []
    for entity_, dt, suite, success, evaluated, failures, result, validated_at in rows:
        failures = json.loads(failures) if isinstance(failures, str) else failures
        result = json.loads(result) if isinstance(result, str) else result
        outcomes.append(
            ValidationOutcome(
                entity=entity_,
                dt=dt,
                success=success,
                evaluated=evaluated,
                failed=[FailedExpectation(**f) for f in failures],
                result=result,
                suite_name=suite,
                batch=str((result.get("meta") or {}).get("shopflow", {}).get("partition", "")),
                validated_at=validated_at,
            )
        )
    return outcomes
