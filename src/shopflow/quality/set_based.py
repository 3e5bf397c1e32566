"""The gate's fast path: every expectation of a raw suite answered by one query over the staged partition.

The loader COPYs a partition's CSV into a temporary all-text table inside its load transaction
(`stage_ddl`). This module compiles the partition's suite (the same `SuiteSpec` GX builds its suite
from) into one SELECT that types every column the way `frames.read_partition_frame` does, then
answers all expectations with aggregates in a single scan, referential checks by joining the
warehouse's ids. Its verdict on a clean partition is a GX-shaped validation result (the document
`ops.validation_results`, the quarantine and Data Docs read), with the expectation configurations GX
itself would write.

It only ever says "all passed" on its own. When any expectation fails, or the CSV header is not the
contract's, the caller runs the GX suite on the partition frame (`gate.validate_partition`): GX
decides every rejection and writes the failure report with example rows and CSV lines.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib.metadata import version
from typing import Any

from psycopg2 import sql

from shopflow.contracts import Column, Entity
from shopflow.errors import ShopflowError
from shopflow.quality.frames import (
    EVENT_HOUR_COLUMN,
    UNPARSED_PREFIX,
    frame_dtype,
    kind_of,
    numeric_precision_scale,
)
from shopflow.quality.outcome import json_safe
from shopflow.quality.suites import KnownInWarehouse, RowCondition, SuiteSpec, expectation_type

STAGE_TABLE = "shopflow_stage"
RAW_PREFIX = "raw__"  # the staged text of a column, beside its typed value, in the checks' subquery

# How frames.py's value patterns are checked here, cheaply: PostgreSQL's regular expressions cost several
# microseconds a value, so a value's *shape* (its digits mapped to 9, `translate`) is compared with the
# shapes the pattern allows (a hashed `= any(array)`), and `pg_input_is_valid` checks the rest (calendar
# dates, integer ranges). Same verdicts as the patterns; tests/test_quality_set_based.py holds them equal.
_DIGITS = "0123456789"


def _timestamp_shapes() -> list[str]:
    """Every shape frames' ISO 8601 pattern accepts: date, T or space, hh:mm[:ss[.f{1,9}]], offset."""
    times = ["99:99", "99:99:99"] + [f"99:99:99.{'9' * n}" for n in range(1, 10)]
    offsets = ["", "Z", "+99", "-99", "+9999", "-9999", "+99:99", "-99:99"]
    return [f"9999-99-99{sep}{t}{o}" for sep in ("T", " ") for t in times for o in offsets]


TIMESTAMP_SHAPES = _timestamp_shapes()


def _shape(raw: sql.Composable) -> sql.Composable:
    return sql.SQL("translate({}, '0123456789', '9999999999')").format(raw)


class UnsupportedExpectation(ShopflowError, ValueError):
    """A suite holds an expectation this module cannot answer; the gate then asks GX."""


def prepare_transaction(cursor: Any) -> None:
    """Settings of the load transaction the checks run in (local to it).

    Offset-less timestamps are UTC, as frames.py reads them, and timestamps render as ISO 8601; the
    uniqueness and id aggregates sort the partition, in memory rather than on disk.
    """
    cursor.execute("set local timezone to 'UTC'")
    cursor.execute("set local datestyle to 'ISO, YMD'")
    cursor.execute("set local work_mem = '64MB'")


def stage_ddl(entity: Entity) -> sql.Composed:
    """A temporary all-text table shaped like the CSV, dropped when the load transaction ends."""
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in entity.column_names)
    return sql.SQL("create temp table {} ({}) on commit drop").format(sql.Identifier(STAGE_TABLE), columns)


def header_matches(entity: Entity, csv_bytes: bytes) -> bool:
    """Whether the CSV's header row is exactly the contract's columns, in order."""
    end = csv_bytes.find(b"\n")
    first = (csv_bytes if end < 0 else csv_bytes[:end]).decode("utf-8", errors="replace")
    try:
        header = next(csv.reader(io.StringIO(first)))
    except (StopIteration, csv.Error):
        return False
    return header == entity.column_names


# --- typing the staged text like frames.read_partition_frame ---------------------------------------
def _typed(column: Column, partition_date: date | None = None) -> sql.Composable:
    """The column's value typed as frames.coerce_column types it: null where the text does not parse."""
    raw = sql.SQL("nullif({}, '')").format(sql.Identifier(column.name))
    kind = kind_of(column)
    if column.name == "dt" and partition_date is not None:
        # Every row of a good partition holds its date: compare text first, parse only the others.
        return sql.SQL("case when {r} = {text} then {value} else {other} end").format(
            r=raw,
            text=sql.Literal(partition_date.isoformat()),
            value=sql.Literal(partition_date),
            other=_typed(column),
        )
    if kind == "integer":
        # ^[+-]?\d+$ in range: only digits and a sign (no spaces, _ or 0x), and the type's range.
        return sql.SQL(
            "case when translate({r}, {digits}, '') in ('', '+', '-') and pg_input_is_valid({r}, {type}) "
            "then {r}::bigint end"
        ).format(r=raw, digits=sql.Literal(_DIGITS), type=sql.Literal(column.pg_type))
    if kind == "decimal":
        # ^[+-]?(\d+)(\.\d+)?$ with at most p-s integer digits (leading zeros aside), as a float.
        precision, scale = numeric_precision_scale(column.pg_type)
        return sql.SQL(
            "case when translate({r}, {digits}, '') in ('', '+', '-', '.', '+.', '-.') "
            "and ltrim({r}, '+-') not like '.%' and {r} not like '%.' and pg_input_is_valid({r}, 'float8') "
            "and length(ltrim(split_part(ltrim({r}, '+-'), '.', 1), '0')) <= {digits_before} then {r}::float8 end"
        ).format(r=raw, digits=sql.Literal(_DIGITS), digits_before=sql.Literal(precision - scale))
    if kind == "timestamp":
        # Fast path: PostgreSQL's own rendering (ISO, UTC: what the shop extract writes) read back
        # unchanged is a canonical ISO value. A value that looks like one but does not parse raises,
        # and the gate then leaves the partition to GX (gate.gate_staged).
        # Otherwise: pandas refuses hour 24 and second 60, which PostgreSQL accepts (and rolls over).
        return sql.SQL(
            "case when {r} like '____-__-__ __:__:__%+00' and {r}::timestamptz::text = {r} then {r}::timestamptz "
            "when {shape} = any({shapes}) and substr({r}, 12, 2) <= '23' "
            "and (substr({r}, 17, 1) <> ':' or substr({r}, 18, 2) <= '59') "
            "and pg_input_is_valid({r}, 'timestamptz') then {r}::timestamptz end"
        ).format(r=raw, shape=_shape(raw), shapes=sql.Literal(TIMESTAMP_SHAPES))
    if kind == "date":
        return sql.SQL("case when {shape} = '9999-99-99' and pg_input_is_valid({r}, 'date') then {r}::date end").format(
            r=raw, shape=_shape(raw)
        )
    return raw


def _typed_select(entity: Entity, partition_date: date | None = None) -> sql.Composed:
    """Each contract column typed (null where its text does not parse) beside its staged text."""
    items = []
    for column in entity.columns:
        items.append(sql.SQL("{} as {}").format(_typed(column, partition_date), sql.Identifier(column.name)))
        if kind_of(column) != "text":
            items.append(
                sql.SQL("nullif({}, '') as {}").format(
                    sql.Identifier(column.name), sql.Identifier(RAW_PREFIX + column.name)
                )
            )
    # offset 0 keeps the subquery from being flattened, so each cast runs once per row, not once per check.
    return sql.SQL("select {} from {} offset 0").format(sql.SQL(", ").join(items), sql.Identifier(STAGE_TABLE))


def _frame_column(name: str) -> sql.Composable:
    """A column of the partition frame (contract column or helper) as an expression over the subquery."""
    if name.startswith(UNPARSED_PREFIX):
        column = name[len(UNPARSED_PREFIX) :]
        raw, typed = sql.Identifier("s", RAW_PREFIX + column), sql.Identifier("s", column)
        return sql.SQL("(case when {typed} is null then {raw} end)").format(typed=typed, raw=raw)
    if name == EVENT_HOUR_COLUMN:
        return sql.SQL("extract(hour from {})::int").format(sql.Identifier("s", "event_time"))
    return sql.Identifier("s", name)


def _condition(condition: RowCondition | None) -> sql.Composable:
    if condition is None:
        return sql.SQL("true")
    column = _frame_column(condition.column)
    if condition.operator == "IS_NULL":
        return sql.SQL("{} is null").format(column)
    test = sql.SQL("{} = any({})").format(column, sql.Literal(list(condition.values)))
    if condition.operator == "IN":
        return sql.SQL("coalesce({}, false)").format(test)
    # pandas' `not in` keeps rows whose value is null
    return sql.SQL("not coalesce({}, false)").format(test)


# --- one expectation -> aggregates -----------------------------------------------------------------
@dataclass
class _Check:
    """One expectation compiled: the aggregates it needs, and how to read them back into a result."""

    cls: str
    kwargs: dict[str, Any]
    aggregates: list[sql.Composable]
    kind: str  # "map" (element/missing/unexpected counts) or an aggregate kind
    first: int = 0  # index of its first aggregate in the SELECT list


def _map_check(cls: str, kwargs: dict[str, Any], column: sql.Composable, unexpected: sql.Composable) -> _Check:
    cond = _condition(kwargs.get("row_condition"))
    return _Check(
        cls,
        kwargs,
        [
            sql.SQL("count(*) filter (where {})").format(cond),
            sql.SQL("count(*) filter (where {} and {} is null)").format(cond, column),
            sql.SQL("count(*) filter (where {} and ({}))").format(cond, unexpected),
        ],
        "map",
    )


def _compile(cls: str, kwargs: dict[str, Any], joins: dict[tuple[str, str], str]) -> _Check:
    column = _frame_column(kwargs["column"]) if "column" in kwargs else None
    if cls == "ExpectTableColumnsToMatchOrderedList":
        return _Check(cls, kwargs, [], "columns")
    if cls == "ExpectColumnTypeToBe":
        return _Check(cls, kwargs, [], "type")
    if cls in ("ExpectTableRowCountToEqual", "ExpectTableRowCountToBeBetween"):
        return _Check(cls, kwargs, [sql.SQL("count(*)")], "row_count")
    if cls == "ExpectColumnValuesToBeNull":
        # GX counts the nulls as the values here, so nothing is "missing".
        cond = _condition(kwargs.get("row_condition"))
        return _Check(
            cls,
            kwargs,
            [
                sql.SQL("count(*) filter (where {})").format(cond),
                sql.SQL("0"),
                sql.SQL("count(*) filter (where {} and {} is not null)").format(cond, column),
            ],
            "map",
        )
    if cls == "ExpectColumnValuesToNotBeNull":
        cond = _condition(kwargs.get("row_condition"))
        return _Check(
            cls,
            kwargs,
            [
                sql.SQL("count(*) filter (where {})").format(cond),
                sql.SQL("0"),
                sql.SQL("count(*) filter (where {} and {} is null)").format(cond, column),
            ],
            "map",
        )
    if cls == "ExpectColumnValuesToBeUnique":
        # Passing needs no duplicate among the non-null values; GX counts the offending rows if not.
        return _Check(
            cls,
            kwargs,
            [
                sql.SQL("count(*)"),
                sql.SQL("count(*) - count({})").format(column),
                sql.SQL("count({0}) - count(distinct {0})").format(column),
            ],
            "map",
        )
    if cls == "ExpectCompoundColumnsToBeUnique":
        columns = sql.SQL(", ").join(_frame_column(c) for c in kwargs["column_list"])
        return _Check(
            cls,
            kwargs,
            [sql.SQL("count(*)"), sql.SQL("0"), sql.SQL("count(*) - count(distinct ({}))").format(columns)],
            "map",
        )
    if cls == "ExpectColumnValuesToBeInSet":
        values = kwargs["value_set"]
        if isinstance(values, KnownInWarehouse):
            alias = joins[(values.table, values.column)]
            check = _map_check(
                cls, kwargs, column, sql.SQL("{} is not null and {} is null").format(column, sql.Identifier(alias, "k"))
            )
            # The narrowed set GX would have been given: the batch's ids (all known, when this passes).
            check.aggregates.append(sql.SQL("array_agg(distinct {0}) filter (where {0} is not null)").format(column))
            check.kind = "map+ids"
            return check
        return _map_check(
            cls,
            kwargs,
            column,
            sql.SQL("{0} is not null and not {0} = any({1})").format(column, sql.Literal(list(values))),
        )
    if cls == "ExpectColumnValuesToBeBetween":
        tests = []
        if kwargs.get("min_value") is not None:
            op = ">" if kwargs.get("strict_min") else ">="
            tests.append(sql.SQL("{} " + op + " {}").format(column, sql.Literal(kwargs["min_value"])))
        if kwargs.get("max_value") is not None:
            op = "<" if kwargs.get("strict_max") else "<="
            tests.append(sql.SQL("{} " + op + " {}").format(column, sql.Literal(kwargs["max_value"])))
        inside = sql.SQL(" and ").join(tests) if tests else sql.SQL("true")
        return _map_check(cls, kwargs, column, sql.SQL("{} is not null and not ({})").format(column, inside))
    if cls == "ExpectColumnValuesToMatchRegex":
        # GX on pandas searches (str.contains); PostgreSQL's ~ searches too.
        return _map_check(
            cls,
            kwargs,
            column,
            sql.SQL("{0} is not null and not ({0} ~ {1})").format(column, sql.Literal(kwargs["regex"])),
        )
    if cls == "ExpectColumnPairValuesAToBeGreaterThanB":
        if kwargs.get("ignore_row_if") != "either_value_is_missing":
            raise UnsupportedExpectation(f"{cls} with ignore_row_if={kwargs.get('ignore_row_if')!r}")
        a, b = _frame_column(kwargs["column_A"]), _frame_column(kwargs["column_B"])
        op = ">=" if kwargs.get("or_equal") else ">"
        return _Check(
            cls,
            kwargs,
            [
                sql.SQL("count(*)"),
                sql.SQL("count(*) filter (where {} is null or {} is null)").format(a, b),
                sql.SQL(
                    "count(*) filter (where {0} is not null and {1} is not null and not ({0} " + op + " {1}))"
                ).format(a, b),
            ],
            "map",
        )
    if cls == "ExpectColumnDistinctValuesToContainSet":
        return _Check(
            cls, kwargs, [sql.SQL("array_agg(distinct {0}) filter (where {0} is not null)").format(column)], "distinct"
        )
    if cls == "ExpectColumnProportionOfNonNullValuesToBeBetween":
        return _Check(cls, kwargs, [sql.SQL("count({})::float8 / nullif(count(*), 0)").format(column)], "proportion")
    raise UnsupportedExpectation(cls)


@dataclass
class CompiledSuite:
    spec: SuiteSpec
    checks: list[_Check]
    query: sql.Composed


def compile_suite(spec: SuiteSpec, entity: Entity, partition_date: date | None = None) -> CompiledSuite:
    """The one SELECT that answers every expectation of `spec` over the staged partition of `entity`."""
    joins: dict[tuple[str, str], str] = {}
    join_sql = []
    for _, kwargs in spec.items:
        known = kwargs.get("value_set")
        if isinstance(known, KnownInWarehouse) and (known.table, known.column) not in joins:
            alias = f"known_{len(joins)}"
            joins[(known.table, known.column)] = alias
            join_sql.append(
                sql.SQL(
                    "left join (select distinct {col} as k from {table} where dt <= {through}) {alias} on {alias}.k = {value}"
                ).format(
                    col=sql.Identifier(known.column),
                    table=sql.Identifier("raw", known.table),
                    through=sql.Literal(known.through),
                    alias=sql.Identifier(alias),
                    value=sql.Identifier("s", kwargs["column"]),
                )
            )
    checks: list[_Check] = []
    aggregates: list[sql.Composable] = []
    for cls, kwargs in spec.items:
        check = _compile(cls, kwargs, joins)
        check.first = len(aggregates)
        aggregates.extend(check.aggregates)
        checks.append(check)
    query = sql.SQL("select {aggs} from ({typed}) s {joins}").format(
        aggs=sql.SQL(", ").join(aggregates) if aggregates else sql.SQL("1"),
        typed=_typed_select(entity, partition_date),
        joins=sql.SQL(" ").join(join_sql),
    )
    return CompiledSuite(spec, checks, query)


# --- reading the answers back as GX would have written them ---------------------------------------
def _config(cls: str, kwargs: dict[str, Any], ids: list[int] | None) -> dict[str, Any]:
    """The expectation_config GX writes into a result for this expectation."""
    body = {k: v for k, v in kwargs.items() if k not in ("meta", "description")}
    if isinstance(body.get("row_condition"), RowCondition):
        body["row_condition"] = body["row_condition"].to_json()
    if isinstance(body.get("value_set"), KnownInWarehouse):
        body["value_set"] = sorted(ids or [])
    config = {"type": expectation_type(cls), "kwargs": json_safe(body), "meta": dict(kwargs.get("meta") or {})}
    if kwargs.get("description") is not None:
        config["description"] = kwargs["description"]
    config["severity"] = "critical"
    return config


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _answer(check: _Check, row: tuple, entity: Entity) -> tuple[bool, dict[str, Any], list[int] | None]:
    values = row[check.first : check.first + len(check.aggregates)]
    kwargs = check.kwargs
    if check.kind in ("map", "map+ids"):
        elements, missing, unexpected = (int(v) for v in values[:3])
        ids = list(values[3] or []) if check.kind == "map+ids" else None
        nonmissing = elements - missing
        result: dict[str, Any] = {
            "element_count": elements,
            "unexpected_count": unexpected,
            "unexpected_percent": _percent(unexpected, nonmissing),
            "partial_unexpected_list": [],
            "missing_count": missing,
            "missing_percent": _percent(missing, elements),
        }
        return unexpected == 0, result, ids
    if check.kind == "columns":
        # The stage only exists when the header is the contract's: the frame's columns are then these.
        return True, {"observed_value": list(kwargs["column_list"])}, None
    if check.kind == "type":
        # A contract column present in the file gets its contract dtype by construction.
        column = next(c for c in entity.columns if c.name == kwargs["column"])
        return kwargs["type_"] == frame_dtype(column), {"observed_value": frame_dtype(column)}, None
    if check.kind == "row_count":
        count = int(values[0])
        if check.cls == "ExpectTableRowCountToEqual":
            return count == kwargs["value"], {"observed_value": count}, None
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        ok = (low is None or count >= low) and (high is None or count <= high)
        return ok, {"observed_value": count}, None
    if check.kind == "distinct":
        observed = sorted(values[0] or [])
        return set(kwargs["value_set"]) <= set(observed), {"observed_value": observed}, None
    if check.kind == "proportion":
        share = values[0]
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        ok = share is not None and (low is None or share >= low) and (high is None or share <= high)
        return ok, {"observed_value": share}, None
    raise UnsupportedExpectation(check.cls)


@cache
def _gx_version() -> str:
    return version("great_expectations")


@dataclass
class SetBasedVerdict:
    """All expectations' answers: `success` only when every one passed; `result` is GX-shaped."""

    success: bool
    failed: list[str]  # expectation types that did not pass (GX then decides and reports)
    result: dict[str, Any]


def evaluate(
    cursor: Any, spec: SuiteSpec, entity: Entity, meta: dict[str, Any], partition_date: date | None = None
) -> SetBasedVerdict:
    """Run the compiled suite over the staged partition (in the cursor's transaction)."""
    compiled = compile_suite(spec, entity, partition_date)
    cursor.execute(compiled.query)
    row = cursor.fetchone()
    results, failed = [], []
    for check in compiled.checks:
        success, body, ids = _answer(check, row, entity)
        if not success:
            failed.append(expectation_type(check.cls))
        results.append(
            {
                "success": success,
                "expectation_config": _config(check.cls, check.kwargs, ids),
                "result": body,
                "meta": {},
                "exception_info": {"raised_exception": False, "exception_traceback": None, "exception_message": None},
            }
        )
    passed = len(results) - len(failed)
    document = {
        "success": not failed,
        "suite_name": spec.name,
        "suite_parameters": {},
        "statistics": {
            "evaluated_expectations": len(results),
            "successful_expectations": passed,
            "unsuccessful_expectations": len(failed),
            "success_percent": _percent(passed, len(results)) or 0.0,
        },
        "results": results,
        "meta": {
            "great_expectations_version": _gx_version(),
            "batch_spec": {"batch_data": "PostgreSQL staging table"},
            "batch_markers": {"ge_load_time": datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")},
            "active_batch_definition": {
                "datasource_name": "warehouse_staging",
                "data_connector_name": "fluent",
                "data_asset_name": entity.qualified_name,
                "batch_identifiers": {},
            },
            "shopflow": meta,
        },
        "id": None,
    }
    return SetBasedVerdict(success=not failed, failed=failed, result=document)
