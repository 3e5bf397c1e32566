"""Extract each source for one logical date into the lake's raw zone (idempotent per date)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from shopflow.contracts import Entity
from shopflow.errors import ShopflowError
from shopflow.lake import Lake, LakeError, Manifest, day_interval, partition_prefix, sha256_hex


class ExtractError(ShopflowError, RuntimeError):
    """A source could not be extracted for a date; nothing was written for that partition."""


@dataclass(frozen=True)
class ExtractResult:
    entity: str
    dt: date
    row_count: int
    key: str
    full_history: bool = False
    reused: bool = False  # an existing sealed partition was kept


def sealed_partition(lake: Lake, entity: Entity, dt: date) -> ExtractResult | None:
    """The existing partition for `dt` if it is sealed: present, intact, and not rejected by the gate.

    Mutable sources (a database read by updated_at, an API snapshot) cannot reproduce a past day: a
    row changed again later has left that day's window. Re-reading them would replace a partition
    with a poorer one, so a sealed partition is kept and a re-run gives the same result. Pass
    force=True to the extractor to re-read anyway.
    """
    if lake.list_keys(partition_prefix(entity, dt, zone="quarantine")):
        return None
    try:
        partition = lake.read_partition(entity, dt)
    except LakeError:
        return None  # missing or damaged: extract it again
    m = partition.manifest
    return ExtractResult(entity.qualified_name, dt, m.row_count, partition.data_key, m.full_history, reused=True)


def rows_to_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV with a header; None becomes an empty field (NULL for COPY)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode()


def write_partition(
    lake: Lake,
    entity: Entity,
    dt: date,
    csv_bytes: bytes,
    row_count: int,
    watermark: str | None,
    full_history: bool = False,
) -> ExtractResult:
    """Write a partition and its manifest to the raw zone, replacing any earlier version."""
    start, end = day_interval(dt)
    manifest = Manifest(
        entity=entity.qualified_name,
        dt=dt,
        row_count=row_count,
        sha256=sha256_hex(csv_bytes),
        watermark=watermark,
        interval_start=start.isoformat(),
        interval_end=end.isoformat(),
        # Bookkeeping only: never used to select data, so re-runs stay deterministic.
        extracted_at=datetime.now(UTC).isoformat(timespec="seconds"),
        columns=entity.column_names,
        full_history=full_history,
    )
    key = lake.write_partition(entity, manifest, csv_bytes)
    return ExtractResult(entity.qualified_name, dt, row_count, key, full_history)
