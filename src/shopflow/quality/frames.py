"""Read a raw partition's CSV into a typed DataFrame for the quality gate, without losing bad values.

Every column is read as a string first, then coerced to its contract type (Int64, float64, UTC
datetime, date). A value that does not parse becomes null in the typed column *and* is kept, as
written, in a helper column `_unparsed_<column>` (null everywhere else). The suites expect every
helper column to be entirely null, so a bad value fails a schema expectation that names the column
and the offending rows instead of vanishing into a null.

Helper columns start with `_` and follow the contract columns; `clickstream.events` also gets
`_event_hour` (the UTC hour of `event_time`) for the hour-coverage expectation.
"""

from __future__ import annotations

import csv
import gzip
import io
import re

import numpy as np
import pandas as pd

from shopflow.contracts import EVENTS, Column, Entity
from shopflow.errors import ShopflowError

UNPARSED_PREFIX = "_unparsed_"
EVENT_HOUR_COLUMN = "_event_hour"

# Frame dtypes by contract pg_type; numeric(p,s) columns map to float64.
INT_DTYPE = "Int64"
FLOAT_DTYPE = "float64"
TIMESTAMP_DTYPE = "datetime64[us, UTC]"
DATE_DTYPE = "object"  # datetime.date values; pandas has no date dtype
TEXT_DTYPE = "string"

_INTEGER_RE = re.compile(r"^[+-]?\d+$")
_DECIMAL_RE = re.compile(r"^[+-]?(\d+)(\.\d+)?$")
_NUMERIC_TYPE_RE = re.compile(r"^numeric\((\d+),\s*(\d+)\)$")


def numeric_precision_scale(pg_type: str) -> tuple[int, int]:
    """(precision, scale) of a `numeric(p, s)` column type; ValueError for any other type."""
    match = _NUMERIC_TYPE_RE.match(pg_type)
    if match is None:
        raise ValueError(f"{pg_type!r} is not a numeric(precision, scale) type")
    precision, scale = match.groups()
    return int(precision), int(scale)


_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# ISO 8601 date-time; a missing offset means UTC (the contract writes UTC only).
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$")
_INT_RANGES = {"integer": (-(2**31), 2**31 - 1), "bigint": (-(2**63), 2**63 - 1)}


class PartitionReadError(ShopflowError, ValueError):
    """The partition's bytes are not a readable CSV (bad gzip, no header, ragged rows)."""


def unparsed_column(column: str) -> str:
    """Name of the helper column holding the raw strings of `column` that did not parse."""
    return f"{UNPARSED_PREFIX}{column}"


def kind_of(column: Column) -> str:
    """The value kind of a contract column: integer, decimal, timestamp, date or text."""
    pg_type = column.pg_type
    if pg_type in _INT_RANGES:
        return "integer"
    if _NUMERIC_TYPE_RE.match(pg_type):
        return "decimal"
    if pg_type == "timestamptz":
        return "timestamp"
    if pg_type == "date":
        return "date"
    if pg_type == "text":
        return "text"
    raise ValueError(f"column {column.name!r} has pg_type {pg_type!r}, which the quality gate cannot read")


def frame_dtype(column: Column) -> str:
    """The dtype `read_partition_frame` gives a contract column."""
    return {
        "integer": INT_DTYPE,
        "decimal": FLOAT_DTYPE,
        "timestamp": TIMESTAMP_DTYPE,
        "date": DATE_DTYPE,
        "text": TEXT_DTYPE,
    }[kind_of(column)]


def typed_columns(entity: Entity) -> list[Column]:
    """Contract columns that are coerced from text, and so get an `_unparsed_` helper column."""
    return [c for c in entity.columns if kind_of(c) != "text"]


def expected_frame_columns(entity: Entity) -> list[str]:
    """Columns, in order, of a well-formed partition frame: contract columns, then helpers."""
    columns = entity.column_names + [unparsed_column(c.name) for c in typed_columns(entity)]
    if entity.qualified_name == EVENTS.qualified_name:
        columns.append(EVENT_HOUR_COLUMN)
    return columns


def _coerce_integer(raw: pd.Series, pg_type: str) -> pd.Series:
    low, high = _INT_RANGES[pg_type]
    ok = raw.str.fullmatch(_INTEGER_RE.pattern).fillna(False).astype(bool)
    values = pd.Series(pd.NA, index=raw.index, dtype=INT_DTYPE)
    if ok.any():
        # Python ints first: int64 conversion of an out-of-range literal would overflow silently.
        parsed = raw[ok].map(int)
        in_range = parsed.between(low, high)
        values[parsed[in_range].index] = parsed[in_range].astype("int64")
    return values


def _coerce_decimal(raw: pd.Series, pg_type: str) -> pd.Series:
    precision, scale = numeric_precision_scale(pg_type)
    max_integer_digits = precision - scale
    parts = raw.str.extract(_DECIMAL_RE)
    integer_digits = parts[0].str.lstrip("0").str.len()
    # PostgreSQL rounds extra fraction digits but rejects too many integer digits (numeric overflow).
    ok = parts[0].notna() & (integer_digits <= max_integer_digits)
    values = pd.Series(float("nan"), index=raw.index, dtype=FLOAT_DTYPE)
    if ok.any():
        values[ok[ok].index] = raw[ok].astype(FLOAT_DTYPE)
    return values


def _coerce_timestamp(raw: pd.Series) -> pd.Series:
    ok = raw.str.fullmatch(_TIMESTAMP_RE.pattern).fillna(False).astype(bool)
    values = pd.Series(pd.NaT, index=raw.index, dtype=TIMESTAMP_DTYPE)
    if ok.any():
        parsed = pd.to_datetime(raw[ok].astype(object), format="ISO8601", utc=True, errors="coerce")
        values[ok[ok].index] = parsed.astype(TIMESTAMP_DTYPE)
    return values


def _coerce_date(raw: pd.Series) -> pd.Series:
    ok = raw.str.fullmatch(_DATE_RE.pattern).fillna(False).astype(bool)
    values = pd.Series(None, index=raw.index, dtype=DATE_DTYPE)
    if ok.any():
        parsed = pd.to_datetime(raw[ok].astype(object), format="%Y-%m-%d", errors="coerce")
        values[ok[ok].index] = [None if pd.isna(v) else v.date() for v in parsed]
    return values


def coerce_column(column: Column, raw: pd.Series) -> pd.Series:
    """Coerce one string column to its contract type; values that do not parse become null."""
    kind = kind_of(column)
    if kind == "integer":
        return _coerce_integer(raw, column.pg_type)
    if kind == "decimal":
        return _coerce_decimal(raw, column.pg_type)
    if kind == "timestamp":
        return _coerce_timestamp(raw)
    if kind == "date":
        return _coerce_date(raw)
    return raw


def _decode(csv_bytes: bytes) -> str:
    if csv_bytes[:2] == b"\x1f\x8b":
        try:
            csv_bytes = gzip.decompress(csv_bytes)
        except (OSError, EOFError) as exc:
            raise PartitionReadError(f"the partition looks gzipped but does not decompress: {exc}") from exc
    try:
        return csv_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PartitionReadError(f"the partition is not UTF-8 text (byte {exc.start}): {exc.reason}") from exc


def _records(entity: Entity, text: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, records and each record's first line; every record must have the header's field count."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
        records, lines = [], []
        previous_end = reader.line_num
        for record in reader:
            if len(record) != len(header):
                if not any(record):
                    previous_end = reader.line_num
                    continue  # a blank line, as at the end of a file
                raise PartitionReadError(
                    f"{entity.qualified_name}: line {previous_end + 1} has {len(record)} fields, "
                    f"the header has {len(header)}"
                )
            records.append(record)
            lines.append(previous_end + 1)
            previous_end = reader.line_num
    except csv.Error as exc:
        raise PartitionReadError(f"{entity.qualified_name}: malformed CSV at line {reader.line_num}: {exc}") from exc
    return header, records, lines


def read_partition_frame(entity: Entity, csv_bytes: bytes) -> pd.DataFrame:
    """Typed frame of a raw partition's CSV (gzipped or not) plus `_unparsed_*` helper columns.

    Columns keep the order of the CSV header, so a missing, extra or moved column is visible to the
    schema expectations; contract columns that are present are coerced, unknown ones stay strings.
    Rows keep their file order; `frame.attrs["shopflow_lines"][i]` is the CSV line of row i.
    Raises PartitionReadError when the bytes are not a CSV with a header and equal-length rows.
    """
    text = _decode(csv_bytes)
    if not text.strip():
        raise PartitionReadError(f"{entity.qualified_name}: the partition is empty (not even a header row)")
    header, records, lines = _records(entity, text)
    duplicates = sorted({c for c in header if header.count(c) > 1})
    if duplicates:
        raise PartitionReadError(f"{entity.qualified_name}: the header repeats column(s) {', '.join(duplicates)}")
    raw = (
        pd.DataFrame(records, columns=header, dtype=TEXT_DTYPE)
        if records
        else pd.DataFrame({name: pd.Series([], dtype=TEXT_DTYPE) for name in header})
    )
    raw = raw.mask(raw == "")  # '' = NULL (contract)
    raw.index = pd.RangeIndex(len(raw))
    contract = {c.name: c for c in entity.columns}
    frame = pd.DataFrame(index=raw.index)
    for name in raw.columns:
        column = contract.get(name)
        frame[name] = coerce_column(column, raw[name]) if column is not None else raw[name]
    for column in typed_columns(entity):
        if column.name not in raw.columns:
            continue
        failed = raw[column.name].notna() & frame[column.name].isna()
        frame[unparsed_column(column.name)] = raw[column.name].where(failed, pd.NA).astype(TEXT_DTYPE)
    if entity.qualified_name == EVENTS.qualified_name and "event_time" in frame.columns:
        frame[EVENT_HOUR_COLUMN] = frame["event_time"].dt.hour.astype(INT_DTYPE)
    # Lets reports turn a row into the line of the file it came from. An array, not a list: pandas
    # deep-copies attrs on every operation, and GX runs many.
    frame.attrs["shopflow_lines"] = np.asarray(lines, dtype=np.int64)
    return frame


def csv_line(frame: pd.DataFrame, index: object) -> int | None:
    """The 1-based CSV line of row `index` of a frame from `read_partition_frame` (None otherwise)."""
    lines = frame.attrs.get("shopflow_lines")
    if lines is None or not isinstance(index, int) or not 0 <= index < len(lines):
        return None
    return int(lines[index])


__all__ = [
    "EVENT_HOUR_COLUMN",
    "UNPARSED_PREFIX",
    "PartitionReadError",
    "coerce_column",
    "csv_line",
    "expected_frame_columns",
    "frame_dtype",
    "kind_of",
    "read_partition_frame",
    "typed_columns",
    "unparsed_column",
]
