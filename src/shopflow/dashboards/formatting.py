"""Formatting of card values for HTML (Python side) and Plotly axes (d3-format side).

Both follow the card YAML: currency in US dollars, percent columns hold fractions (0.25 -> 25%),
numbers with thousands separators, dates at day or month precision in UTC.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from shopflow.dashboards.definitions import Column

MISSING = "—"
DEFAULT_DECIMALS = {"currency": 2, "percent": 1, "number": 0}


def decimals_of(column: Column) -> int:
    """The decimals a numeric column is shown with."""
    if column.decimals is not None:
        return column.decimals
    return DEFAULT_DECIMALS.get(column.format, 0)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def format_date(value: Any, unit: str | None) -> str:
    """A date or timestamp as 'Mar 2026' (month) or '2026-03-15' (day, the default)."""
    day = _as_date(value)
    if unit == "month":
        return day.strftime("%b %Y")
    return day.isoformat()


def format_value(value: Any, column: Column) -> str:
    """Format one cell of `column` for display."""
    if value is None:
        return MISSING
    fmt = column.format
    if fmt == "date":
        return format_date(value, column.date_unit)
    if fmt == "text" or isinstance(value, str):
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    places = decimals_of(column)
    if fmt == "percent":
        return f"{number * 100:,.{places}f}%"
    if fmt == "currency":
        sign = "-" if number < 0 else ""
        return f"{sign}${abs(number):,.{places}f}"
    return f"{number:,.{places}f}"


def d3_format(column: Column) -> str:
    """The d3-format string Plotly uses for ticks and hover labels of `column`."""
    places = decimals_of(column)
    if column.format == "currency":
        return f"$,.{places}f"
    if column.format == "percent":
        return f".{places}%"
    return f",.{places}f"


def d3_date_format(column: Column) -> str:
    """The d3-time-format string for a date column's axis and hover labels."""
    return "%b %Y" if column.date_unit == "month" else "%Y-%m-%d"


def to_json_value(value: Any) -> Any:
    """A cell as a JSON-ready value: numbers as float/int, dates as ISO strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and abs(value) < 2**53 else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
