"""What a validation found, in a form the loader, the ledger and people can read.

A `ValidationOutcome` keeps the full GX result (JSON-able, for the quarantine and
`ops.validation_results`) and a list of `FailedExpectation`s: which expectation failed, on which
contract column, what was expected and observed, and up to three offending rows.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from shopflow.errors import ShopflowError
from shopflow.quality.frames import UNPARSED_PREFIX

MAX_EXAMPLES = 3
_SET_PREVIEW = 8


def json_safe(value: Any) -> Any:
    """`value` with NaN/inf floats as None and dates/timestamps as ISO text: strict JSON for jsonb."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, float | Decimal):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)  # numpy's str_ subclass would otherwise leak into reprs
    if value is None or isinstance(value, bool | int):
        return value
    if hasattr(value, "item"):  # numpy / pandas scalars
        try:
            return json_safe(value.item())
        except (ValueError, TypeError):
            pass
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _fmt(value: Any) -> str:
    value = json_safe(value)
    return "null" if value is None else repr(value) if isinstance(value, str) else str(value)


def _fmt_set(values: list[Any]) -> str:
    shown = ", ".join(_fmt(v) for v in values[:_SET_PREVIEW])
    more = f", ... ({len(values)} values)" if len(values) > _SET_PREVIEW else ""
    return "{" + shown + more + "}"


@dataclass
class FailedExpectation:
    """One failed expectation: what was expected of which column, what was found, example rows."""

    expectation: str  # GX expectation type, e.g. expect_column_values_to_be_between
    family: str  # schema, completeness, uniqueness, range, ...
    column: str | None  # the contract column (helper columns are mapped back to it)
    rule: str  # what was expected, in words
    observed: str  # what was found, in words
    unexpected_count: int | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)  # up to 3 offending rows
    exception: str | None = None  # set when GX could not evaluate the expectation (e.g. missing column)

    def describe(self) -> str:
        """Two or more lines: the failure, then one line per example row."""
        where = f" on {self.column}" if self.column else ""
        head = f"[{self.family}] {self.expectation}{where}: expected {self.rule}; {self.observed}"
        lines = [head]
        for example in self.examples:
            lines.append("    e.g. " + ", ".join(f"{k}={_fmt(v)}" for k, v in example.items()))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored beside the GX result)."""
        return json_safe(
            {
                "expectation": self.expectation,
                "family": self.family,
                "column": self.column,
                "rule": self.rule,
                "observed": self.observed,
                "unexpected_count": self.unexpected_count,
                "examples": self.examples,
                "exception": self.exception,
            }
        )


@dataclass
class ValidationOutcome:
    """The gate's verdict on one batch (a raw partition or a mart table)."""

    entity: str
    dt: date
    success: bool
    evaluated: int
    failed: list[FailedExpectation]
    result: dict  # the GX result as a JSON-able dict, written to quarantine and kept
    suite_name: str = ""
    batch: str = ""  # what was validated: the partition's lake prefix or schema.table
    validated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration_s: float = 0.0

    def summary(self) -> str:
        """Multi-line: the verdict, then each failing expectation with its column and a few offending rows."""
        label = self.batch or f"{self.entity} dt={self.dt.isoformat()}"
        if self.success:
            return f"{label}: all {self.evaluated} expectations passed"
        lines = [f"{label}: {len(self.failed)} of {self.evaluated} expectations failed"]
        for failure in self.failed:
            lines.extend("  " + line for line in failure.describe().splitlines())
        return "\n".join(lines)

    def result_json(self) -> bytes:
        """The GX result plus the readable failures, as UTF-8 JSON (the quarantine's validation_result.json)."""
        document = dict(self.result)
        document["shopflow"] = {
            "entity": self.entity,
            "dt": self.dt.isoformat(),
            "batch": self.batch,
            "suite_name": self.suite_name,
            "success": self.success,
            "evaluated": self.evaluated,
            "validated_at": self.validated_at.isoformat(),
            "failed": [f.to_dict() for f in self.failed],
            "summary": self.summary(),
        }
        return json.dumps(json_safe(document), indent=2, sort_keys=True).encode()


class QualityGateError(ShopflowError):
    """A batch failed its suite; `outcome` holds the result to quarantine and record."""

    def __init__(self, outcome: ValidationOutcome, others: list[ValidationOutcome] | None = None) -> None:
        self.outcome = outcome
        self.outcomes = [outcome, *(others or [])]
        text = "\n".join(o.summary() for o in self.outcomes)
        super().__init__(f"quality gate rejected {outcome.batch or outcome.entity}:\n{text}")


# --- reading GX results ----------------------------------------------------------------------------
def _rule(expectation: str, kwargs: dict[str, Any], description: str | None) -> str:
    if description:
        return description
    k = kwargs
    if expectation == "expect_column_values_to_be_between":
        low, high = k.get("min_value"), k.get("max_value")
        lo_op = ">" if k.get("strict_min") else ">="
        hi_op = "<" if k.get("strict_max") else "<="
        parts = [f"{lo_op} {_fmt(low)}" if low is not None else "", f"{hi_op} {_fmt(high)}" if high is not None else ""]
        return "values " + " and ".join(p for p in parts if p)
    if expectation in ("expect_column_values_to_be_in_set", "expect_column_distinct_values_to_equal_set"):
        return f"values in {_fmt_set(list(k.get('value_set') or []))}"
    if expectation == "expect_column_distinct_values_to_contain_set":
        return f"values to include all of {_fmt_set(list(k.get('value_set') or []))}"
    if expectation == "expect_column_values_to_not_be_null":
        return "no nulls"
    if expectation == "expect_column_values_to_be_null":
        return "only nulls"
    if expectation == "expect_column_values_to_be_unique":
        return "unique values"
    if expectation == "expect_compound_columns_to_be_unique":
        return f"unique ({', '.join(k.get('column_list', []))})"
    if expectation == "expect_column_values_to_match_regex":
        return f"values matching /{k.get('regex')}/"
    if expectation == "expect_table_row_count_to_equal":
        return f"{k.get('value')} rows"
    if expectation == "expect_table_row_count_to_be_between":
        return f"row count between {_fmt(k.get('min_value'))} and {_fmt(k.get('max_value'))}"
    if expectation == "expect_table_columns_to_match_ordered_list":
        return f"columns {k.get('column_list')}"
    if expectation == "expect_column_type_to_be":
        return f"type {k.get('type_')}"
    if expectation == "expect_column_pair_values_a_to_be_greater_than_b":
        op = ">=" if k.get("or_equal") else ">"
        return f"{k.get('column_A')} {op} {k.get('column_B')}"
    if expectation == "expect_column_proportion_of_non_null_values_to_be_between":
        return f"non-null share between {k.get('min_value')} and {k.get('max_value')}"
    shown = {key: v for key, v in k.items() if key not in ("batch_id", "column")}
    return json.dumps(json_safe(shown), sort_keys=True)


def _columns_diff(expected: list[str], observed: list[str]) -> str:
    missing = [c for c in expected if c not in observed]
    extra = [c for c in observed if c not in expected]
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    if extra:
        parts.append(f"unexpected {extra}")
    if not parts:
        parts.append(f"columns out of order: {observed}")
    return "found " + "; ".join(parts)


def _exception_message(res: dict[str, Any]) -> str | None:
    info = res.get("exception_info") or {}
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None


def _observed(expectation: str, kwargs: dict[str, Any], result: dict[str, Any]) -> str:
    if "unexpected_count" in result:
        total = result.get("element_count")
        of = f" of {total} rows" if total is not None else ""
        values = result.get("partial_unexpected_list") or []
        sample = f" (e.g. {', '.join(_fmt(v) for v in values[:MAX_EXAMPLES])})" if values else ""
        return f"{result['unexpected_count']}{of} unexpected{sample}"
    if expectation == "expect_table_columns_to_match_ordered_list":
        return _columns_diff(list(kwargs.get("column_list") or []), list(result.get("observed_value") or []))
    if expectation == "expect_column_distinct_values_to_contain_set":
        missing = result.get("partial_missing_list") or result.get("details", {}).get("missing_values") or []
        return f"missing {_fmt_set(list(missing))}" if missing else f"found {_fmt(result.get('observed_value'))}"
    if expectation == "unexpected_rows_expectation":
        return f"{result.get('observed_value')} offending rows"
    if "observed_value" in result:
        return f"found {_fmt(result['observed_value'])}"
    return "failed"


def _column_of(kwargs: dict[str, Any], meta: dict[str, Any]) -> str | None:
    if meta.get("column"):
        return str(meta["column"])
    column = kwargs.get("column") or kwargs.get("column_A")
    if isinstance(column, str) and column.startswith(UNPARSED_PREFIX):
        return column[len(UNPARSED_PREFIX) :]
    return column


def failed_expectations(result: dict[str, Any]) -> list[tuple[FailedExpectation, dict[str, Any]]]:
    """The failed expectations of a GX suite result (JSON dict), each with its GX result entry."""
    failures = []
    for res in result.get("results", []):
        if res.get("success"):
            continue
        config = res.get("expectation_config") or {}
        expectation = config.get("type", "unknown")
        kwargs = config.get("kwargs") or {}
        meta = config.get("meta") or {}
        body = res.get("result") or {}
        exception = _exception_message(res)
        observed = f"could not be evaluated: {exception}" if exception else _observed(expectation, kwargs, body)
        failures.append(
            (
                FailedExpectation(
                    expectation=expectation,
                    family=str(meta.get("family", "unknown")),
                    column=_column_of(kwargs, meta),
                    rule=_rule(expectation, kwargs, config.get("description")),
                    observed=observed,
                    unexpected_count=body.get("unexpected_count") if isinstance(body, dict) else None,
                    exception=exception,
                ),
                res,
            )
        )
    return failures
