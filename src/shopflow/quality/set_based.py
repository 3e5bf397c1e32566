"""The gate's fast path: every expectation of a raw suite answered by one query over the typed partition.

The loader COPYs a partition's CSV into a temporary all-text table inside its load transaction
(`stage_ddl`), then casts it once into a second temporary table (`typed_ddl`) that its insert reads
too. This module compiles the partition's suite (the same `SuiteSpec` GX builds its suite from) into
one SELECT over the typed rows that answers all expectations with aggregates in a single scan,
referential checks by joining the warehouse's ids, and checks that every value was written canonically
(so that the typed rows are the frame `frames.read_partition_frame` would read). Its verdict on a clean
partition is a GX-shaped validation result (the document `ops.validation_results`, the quarantine and
Data Docs read), with the expectation configurations GX itself would write.

It only ever says "all passed" on its own. When any expectation fails, a value is not canonical, or the
CSV could not be staged or typed, the caller runs the GX suite on the partition frame
(`gate.validate_partition`): GX decides every rejection and writes the failure report with example rows
and CSV lines.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
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
TYPED_TABLE = "shopflow_typed"  # the staged rows cast once: the checks and the load's insert both read it
RAW_PREFIX = "raw__"  # a column's staged text, beside its cast value in the typed table

# Typing once. The loader casts the staged text to the contract's types once (`typed_ddl`: the casts its
# insert used to do) into a second temporary table that keeps each value's text beside it; the checks and
# the insert both read that table. A value the cast refuses (30 February, an int4 overflow, "three")
# makes the typing raise, and the partition is left to GX. The checks accept a cast value only when its
# text is *canonical*: exactly how PostgreSQL (or the clickstream's and Python's ISO format) renders the
# value. For such text PostgreSQL's input functions and frames.py's patterns give the same value, so no
# pattern needs checking, and comparing a rendering costs a fraction of the cast (`translate` or a regular
# expression per value cost several times the cast). Any other non-empty value (a sign `+`, spaces,
# leading zeros, an exponent, more fraction digits than the type keeps, hour 24, second 60...) makes the
# checks *decline* the partition: GX then reads the file the way frames.py does and decides. Every value
# the extracts write is canonical.
TIMESTAMP_RENDERINGS = (
    # (how the text ends, to_char format): the clickstream's ISO 8601 with milliseconds and Python's isoformat
    ("Z", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    ("Z", 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    ("+00:00", 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
    ("+00:00", 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
)


class UnsupportedExpectation(ShopflowError, ValueError):
    """A suite holds an expectation this module cannot answer; the gate then asks GX."""


def prepare_transaction(cursor: Any) -> None:
    """Settings of the load transaction the checks run in (local to it).

    Offset-less timestamps are UTC, as frames.py reads them, and timestamps render as ISO 8601. The
    distinct aggregates (key uniqueness, the ids recorded for referential checks) each sort their one
    column in memory, rather than the whole rows being sorted once for the first of them (PostgreSQL's
    presorted aggregate plan, which spilled a 1M-row partition to disk).
    """
    cursor.execute("set local timezone to 'UTC'")
    cursor.execute("set local datestyle to 'ISO, YMD'")
    cursor.execute("set local work_mem = '64MB'")
    cursor.execute("set local enable_presorted_aggregate = off")


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


# --- typing the staged text once -------------------------------------------------------------------
def _cast(column: Column, partition_date: date | None) -> sql.Composable:
    """The staged text cast once (null when empty): a decimal unconstrained, so no digit is rounded yet."""
    raw = sql.SQL("nullif({}, '')").format(sql.Identifier(column.name))
    kind = kind_of(column)
    if kind == "text":
        return raw
    cast = sql.SQL("{}::{}").format(raw, sql.SQL("numeric" if kind == "decimal" else column.pg_type))
    if column.name == "dt" and partition_date is not None:
        # Every row of a good partition holds its date: compare text first, parse only the others.
        return sql.SQL("(case when {r} = {text} then {value} else {cast} end)").format(
            r=sql.Identifier(column.name),
            text=sql.Literal(partition_date.isoformat()),
            value=sql.Literal(partition_date),
            cast=cast,
        )
    return cast


def typed_ddl(entity: Entity, partition_date: date | None = None) -> sql.Composed:
    """Cast the staged partition once into `TYPED_TABLE` (dropped at commit), keeping each value's text.

    Columns: the contract's, in order (a decimal as unconstrained numeric), then `raw__<column>` (the
    staged text) of every non-text column. Raises (psycopg2.Error) on a value PostgreSQL refuses.
    """
    items = [sql.SQL("{} as {}").format(_cast(c, partition_date), sql.Identifier(c.name)) for c in entity.columns]
    items += [
        sql.SQL("nullif({}, '') as {}").format(sql.Identifier(c.name), sql.Identifier(RAW_PREFIX + c.name))
        for c in entity.columns
        if kind_of(c) != "text"
    ]
    return sql.SQL("create temp table {} on commit drop as select {} from {}").format(
        sql.Identifier(TYPED_TABLE), sql.SQL(", ").join(items), sql.Identifier(STAGE_TABLE)
    )


def typed_select(entity: Entity) -> sql.Composed:
    """The typed rows in the raw table's types (a decimal rounded to its scale, which the checks ensured)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Identifier(c.name), sql.SQL(c.pg_type)) for c in entity.columns
    )
    return sql.SQL("select {} from {}").format(columns, sql.Identifier(TYPED_TABLE))


def _canonical(column: Column, value: sql.Composable, raw: sql.Composable) -> sql.Composable | None:
    """The test that `raw` (non-empty) is a canonical rendering of `value`, its cast (None: text, any form)."""
    kind = kind_of(column)
    if kind in ("integer", "date"):
        return sql.SQL("{}::text = {}").format(value, raw)
    if kind == "decimal":
        # as written (no exponent, sign or stray zeros), no more fraction digits than the type keeps
        # (so the stored value is the checked one) and at most p-s integer digits, as frames.py reads it
        precision, scale = numeric_precision_scale(column.pg_type)
        return sql.SQL("{v}::text = {r} and scale({v}) <= {scale} and abs({v}) < {limit}").format(
            v=value, r=raw, scale=sql.Literal(scale), limit=sql.Literal(10 ** (precision - scale))
        )
    if kind == "timestamp":
        # PostgreSQL's own rendering (ISO, UTC: what the shop extract writes), else the ISO forms above
        others = [
            sql.SQL("({r} like {end} and to_char({v}, {fmt}) = {r})").format(
                r=raw, v=value, end=sql.Literal("%" + end), fmt=sql.Literal(fmt)
            )
            for end, fmt in TIMESTAMP_RENDERINGS
        ]
        return sql.SQL(" or ").join([sql.SQL("{}::text = {}").format(value, raw), *others])
    return None


def _not_canonical(column: Column) -> sql.Composable | None:
    """Aggregate: how many of the column's values are not written canonically (None: text, any form)."""
    value = sql.Identifier("s", column.name)
    test = _canonical(column, value, sql.Identifier("s", RAW_PREFIX + column.name))
    if test is None:
        return None
    return sql.SQL("count(*) filter (where {} is not null and not ({}))").format(value, test)


def _frame_column(name: str) -> sql.Composable:
    """A column of the partition frame (contract column or helper) as an expression over the typed rows."""
    if name.startswith(UNPARSED_PREFIX):
        # Every value parsed (the typing raises otherwise) as the frame reads it (the checks decline otherwise).
        return sql.SQL("null::text")
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
    canonical: list[str]  # the columns whose writing is checked, by the last aggregates of the query
    query: sql.Composed


def compile_suite(spec: SuiteSpec, entity: Entity) -> CompiledSuite:
    """The one SELECT over the typed partition of `entity` that answers every expectation of `spec`,
    and counts each column's values that are not written canonically."""
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
    canonical = []
    for column in entity.columns:
        count = _not_canonical(column)
        if count is not None:
            canonical.append(column.name)
            aggregates.append(count)
    query = sql.SQL("select {aggs} from {typed} s {joins}").format(
        aggs=sql.SQL(", ").join(aggregates) if aggregates else sql.SQL("1"),
        typed=sql.Identifier(TYPED_TABLE),
        joins=sql.SQL(" ").join(join_sql),
    )
    return CompiledSuite(spec, checks, canonical, query)


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
    declined: list[str] = field(default_factory=list)  # columns not written canonically: GX decides alone


def evaluate(cursor: Any, spec: SuiteSpec, entity: Entity, meta: dict[str, Any]) -> SetBasedVerdict:
    """Run the compiled suite over the typed partition (`typed_ddl`, in the cursor's transaction).

    A verdict that `declined` columns (values not written canonically) says nothing: GX decides.
    """
    compiled = compile_suite(spec, entity)
    cursor.execute(compiled.query)
    row = cursor.fetchone()
    first = len(row) - len(compiled.canonical)
    declined = [name for name, count in zip(compiled.canonical, row[first:], strict=True) if count]
    if declined:
        return SetBasedVerdict(success=False, failed=[], result={}, declined=declined)
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
