"""Built-in HTML dashboards: one self-contained page per dashboard plus an index.

Pages work from file:// with no network: Plotly's JavaScript is inlined from the installed plotly
package, charts are drawn from JSON embedded in the page, and JavaScript errors are written into a
hidden element (`#js-errors`) so a headless browser's `--dump-dom` can check them. The pages are
Jinja2 templates shipped with the package (`templates/`), rendered with autoescape on.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import psycopg2
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from shopflow.dashboards.definitions import (
    DEFAULT_ROOT,
    NUMERIC_FORMATS,
    Card,
    Column,
    Dashboard,
    LayoutItem,
    all_cards,
)
from shopflow.dashboards.definitions import load_dashboards as _load_dashboards
from shopflow.dashboards.formatting import (
    d3_date_format,
    d3_format,
    decimals_of,
    format_date,
    format_value,
    to_json_value,
)
from shopflow.dashboards.insights import Insight, compute_insights
from shopflow.dashboards.queries import CardQueryError, CardResult, readonly_connection, run_cards

GRID_ROW_PX = 56
PALETTE = ("#509EE3", "#88BF4D", "#A989C5", "#EF8C8C", "#F9D45C", "#F2A86F", "#98D9D9", "#7172AD")
NO_DATA = "No data"


@cache
def plotly_js() -> str:
    """The minified plotly.js bundled with the installed plotly package (no CDN)."""
    bundle = resources.files("plotly") / "package_data" / "plotly.min.js"
    try:
        text = bundle.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise RuntimeError(
            "plotly/package_data/plotly.min.js is missing from the installed plotly package; "
            "reinstall plotly (pip/uv sync) to render the HTML dashboards"
        ) from exc
    # A literal "</script" inside the inlined code would end the <script> element early.
    return text.replace("</script", "<\\/script")


def _script_json(data: Any) -> Markup:
    """JSON to embed in a <script> element: `<`, `>`, `&` and `'` as \\u escapes, so no value (a
    category named `</script>` or `<!--`) can end the element or change how the browser reads it."""
    return htmlsafe_json_dumps(data, separators=(",", ":"), allow_nan=False)


# --- charts ----------------------------------------------------------------------------------------


def _is_empty(result: CardResult) -> bool:
    """True when there is nothing to draw: no rows, or no non-zero value in the measured columns."""
    card = result.card
    if not result.rows:
        return True
    if card.visualization == "scalar":
        return result.column_values(card.value)[-1] is None
    if card.visualization == "table":
        return False
    measured = [card.y, card.size] if card.visualization == "bubble" else list(card.metrics)
    values = [v for name in measured for v in result.column_values(name) if v is not None]
    if card.visualization in ("pie", "donut", "funnel"):
        return not any(float(v) != 0 for v in values)
    return not values


def _axis(title: str | None, column: Column) -> dict[str, Any]:
    axis: dict[str, Any] = {"title": {"text": title or ""}, "automargin": True, "zeroline": False}
    if column.format == "date":
        axis["type"] = "date"
        axis["tickformat"] = d3_date_format(column)
        axis["hoverformat"] = d3_date_format(column)
    elif column.format in ("currency", "percent", "number"):
        # Whole-number columns get trimmed tick labels so an axis over 1..3 does not read 1, 2, 2, 3.
        whole_numbers = column.format == "number" and decimals_of(column) == 0
        axis["tickformat"] = ",~f" if whole_numbers else d3_format(column)
        axis["hoverformat"] = d3_format(column)
    else:
        axis["type"] = "category"
    return axis


def _hover_value(column: Column, ref: str) -> str:
    if column.format == "date":
        return f"%{{{ref}|{d3_date_format(column)}}}"
    if column.format in ("currency", "percent", "number"):
        return f"%{{{ref}:{d3_format(column)}}}"
    return f"%{{{ref}}}"


def _series_color(card: Card, name: str, index: int) -> str:
    return card.column(name).color or PALETTE[index % len(PALETTE)]


def _json_column(result: CardResult, name: str) -> list[Any]:
    return [to_json_value(v) for v in result.column_values(name)]


def _cartesian_figure(result: CardResult) -> dict[str, Any]:
    card = result.card
    dim = card.column(card.dimension)
    x_values = _json_column(result, dim.name)
    horizontal = card.visualization == "row"
    traces = []
    for i, metric_name in enumerate(card.metrics):
        metric = card.column(metric_name)
        values = _json_column(result, metric_name)
        trace: dict[str, Any] = {
            "type": "scatter" if card.visualization == "line" else "bar",
            "name": metric.label,
            "marker": {"color": _series_color(card, metric_name, i)},
        }
        if card.visualization == "line":
            trace["mode"] = "lines+markers"
            trace["line"] = {"color": _series_color(card, metric_name, i), "width": 2}
        if horizontal:
            trace.update(x=values, y=x_values, orientation="h")
            trace["hovertemplate"] = (
                f"%{{y}}<br>{html.escape(metric.label)}: {_hover_value(metric, 'x')}<extra></extra>"
            )
        else:
            trace.update(x=x_values, y=values)
            trace["hovertemplate"] = (
                f"{_hover_value(dim, 'x')}<br>{html.escape(metric.label)}: {_hover_value(metric, 'y')}<extra></extra>"
            )
        traces.append(trace)
    first_metric = card.column(card.metrics[0])
    dim_axis = _axis(card.x_label, dim)
    metric_axis = _axis(card.y_label, first_metric)
    metric_axis["rangemode"] = "tozero"
    if dim.format == "number" and not horizontal:
        # Whole-number dimensions such as hour of day: one tick per value, not 2.5, 5, 7.5.
        dim_values = [v for v in x_values if v is not None]
        dim_axis.update(type="linear", dtick=1, tickformat="d")
        if dim_values:
            dim_axis["range"] = [min(dim_values) - 0.5, max(dim_values) + 0.5]
    layout: dict[str, Any] = {
        "showlegend": len(traces) > 1,
        "legend": {"orientation": "h", "y": -0.25},
        "barmode": "group",
    }
    if horizontal:
        dim_axis["autorange"] = "reversed"  # first row on top, as in the SQL's order
        layout.update(xaxis=metric_axis, yaxis=dim_axis)
    else:
        layout.update(xaxis=dim_axis, yaxis=metric_axis)
    return {"data": traces, "layout": layout}


def _pie_figure(result: CardResult) -> dict[str, Any]:
    card = result.card
    metric = card.column(card.metrics[0])
    labels = [str(v) for v in result.column_values(card.dimension)]
    fixed = card.value_colors.colors if card.value_colors is not None else {}
    colors = [fixed.get(label, PALETTE[i % len(PALETTE)]) for i, label in enumerate(labels)]
    trace = {
        "type": "pie",
        "labels": labels,
        "values": _json_column(result, metric.name),
        "sort": False,  # keep the SQL's order (VIP, High, Medium, Low)
        "direction": "clockwise",
        "hole": 0.55 if card.visualization == "donut" else 0,
        "marker": {"colors": colors},
        "textinfo": "percent",
        "hovertemplate": (
            f"%{{label}}<br>{html.escape(metric.label)}: {_hover_value(metric, 'value')}<br>%{{percent}}<extra></extra>"
        ),
    }
    return {"data": [trace], "layout": {"showlegend": True, "legend": {"orientation": "v"}}}


def _funnel_figure(result: CardResult) -> dict[str, Any]:
    card = result.card
    metric = card.column(card.metrics[0])
    trace = {
        "type": "funnel",
        "y": [str(v) for v in result.column_values(card.dimension)],
        "x": _json_column(result, metric.name),
        "textinfo": "value+percent initial",
        "texttemplate": f"{_hover_value(metric, 'x')} (%{{percentInitial:.1%}})",
        "marker": {"color": metric.color or PALETTE[0]},
        "hovertemplate": (
            f"%{{y}}<br>{html.escape(metric.label)}: {_hover_value(metric, 'x')}"
            "<br>%{percentInitial:.1%} of the first step<extra></extra>"
        ),
    }
    return {"data": [trace], "layout": {"showlegend": False, "yaxis": {"automargin": True}}}


def _bubble_figure(result: CardResult) -> dict[str, Any]:
    card = result.card
    x_col, y_col, size_col = card.column(card.x), card.column(card.y), card.column(card.size)
    sizes = [float(v or 0) for v in result.column_values(size_col.name)]
    largest = max(sizes) if sizes else 0
    # Plotly's recommended sizeref for sizemode=area: the largest bubble gets a 45 px diameter.
    sizeref = 2.0 * largest / (45.0**2) if largest > 0 else 1
    extra = [size_col, *(card.column(name) for name in card.tooltip if name != size_col.name)]
    customdata = [[format_value(row[result.columns.index(col.name)], col) for col in extra] for row in result.rows]
    tooltip_lines = "".join(f"<br>{html.escape(col.label)}: %{{customdata[{i}]}}" for i, col in enumerate(extra))
    trace = {
        "type": "scatter",
        "mode": "markers",
        "x": _json_column(result, x_col.name),
        "y": _json_column(result, y_col.name),
        "text": [str(v) for v in result.column_values(card.label)],
        "customdata": customdata,
        "marker": {
            "size": sizes,
            "sizemode": "area",
            "sizeref": sizeref,
            "sizemin": 4,
            "color": size_col.color or PALETTE[5],
            "opacity": 0.7,
            "line": {"width": 1, "color": "#FFFFFF"},
        },
        "hovertemplate": (
            f"<b>%{{text}}</b><br>{html.escape(x_col.label)}: {_hover_value(x_col, 'x')}"
            f"<br>{html.escape(y_col.label)}: {_hover_value(y_col, 'y')}{tooltip_lines}<extra></extra>"
        ),
    }
    layout = {
        "showlegend": False,
        "xaxis": _axis(card.x_label, x_col),
        "yaxis": {**_axis(card.y_label, y_col), "rangemode": "tozero"},
    }
    return {"data": [trace], "layout": layout}


def chart_figure(result: CardResult) -> dict[str, Any]:
    """The Plotly figure (data + layout, plain JSON) for a chart card."""
    builders = {
        "line": _cartesian_figure,
        "bar": _cartesian_figure,
        "row": _cartesian_figure,
        "pie": _pie_figure,
        "donut": _pie_figure,
        "funnel": _funnel_figure,
        "bubble": _bubble_figure,
    }
    figure = builders[result.card.visualization](result)
    figure["layout"].update(
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        autosize=True,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        separators=".,",
    )
    return figure


# --- what the templates show -----------------------------------------------------------------------
# The templates (templates/*.html) lay out the page; these small views hold the formatted text they
# fill in, so the formatting rules stay in Python and every value is escaped by Jinja2's autoescape.


@dataclass(frozen=True)
class TrendView:
    period: str
    direction: str | None  # "up", "down", or None when there is no earlier period to compare with
    magnitude: str = ""
    previous: str = ""


@dataclass(frozen=True)
class ScalarView:
    value: str
    trend: TrendView | None


@dataclass(frozen=True)
class CellView:
    text: str
    numeric: bool
    color: str | None = None  # a badge's background, from the card's value_colors


@dataclass(frozen=True)
class TableView:
    headers: list[CellView]
    rows: list[list[CellView]]


@dataclass(frozen=True)
class CardView:
    """One card on the grid: exactly one of scalar, table or chart_id is set, or none for "No data"."""

    item: LayoutItem
    scalar: ScalarView | None = None
    table: TableView | None = None
    chart_id: str | None = None


def _scalar_view(result: CardResult) -> ScalarView:
    card = result.card
    last = result.records()[-1]
    value = format_value(last[card.column(card.value).name], card.column(card.value))
    if card.trend is None:
        return ScalarView(value, None)
    period_col, growth_col = card.column(card.trend.period), card.column(card.trend.growth)
    period = format_date(last[period_col.name], period_col.date_unit)
    growth = last[growth_col.name]
    if growth is None or len(result.rows) < 2:
        return ScalarView(value, TrendView(period, None))
    previous = format_date(result.records()[-2][period_col.name], period_col.date_unit)
    direction = "up" if growth >= 0 else "down"
    return ScalarView(value, TrendView(period, direction, format_value(abs(growth), growth_col), previous))


def _table_view(result: CardResult) -> TableView:
    card = result.card
    numeric = {c.name for c in card.columns if c.format in NUMERIC_FORMATS}
    colors = card.value_colors
    rows = []
    for row in result.rows:
        cells = []
        for col, value in zip(card.columns, row, strict=True):
            color = colors.colors.get(str(value)) if colors is not None and col.name == colors.column else None
            cells.append(CellView(format_value(value, col), col.name in numeric, color))
        rows.append(cells)
    return TableView([CellView(c.label, c.name in numeric) for c in card.columns], rows)


def _card_view(item: LayoutItem, result: CardResult, chart_id: str, specs: list[dict[str, Any]]) -> CardView:
    """The card's view; a chart's figure is appended to `specs`, which the page draws from."""
    card = result.card
    if _is_empty(result):
        return CardView(item)
    if card.visualization == "scalar":
        return CardView(item, scalar=_scalar_view(result))
    if card.visualization == "table":
        return CardView(item, table=_table_view(result))
    specs.append({"id": chart_id, **chart_figure(result)})
    return CardView(item, chart_id=chart_id)


# --- pages -----------------------------------------------------------------------------------------


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("shopflow.dashboards", "templates"),
        autoescape=True,  # every page is HTML: escape every value unless it is marked safe here
        undefined=jinja2.StrictUndefined,  # a misspelt name in a template is an error, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _render(template: str, **context: Any) -> str:
    return _templates().get_template(template).render(grid_row_px=GRID_ROW_PX, **context)


def dashboard_page(
    dashboard: Dashboard,
    results: dict[str, CardResult],
    dashboards: list[Dashboard],
    insights: list[Insight],
    *,
    data_through: dt.date | None,
    generated_at: dt.datetime,
) -> str:
    """The HTML of one dashboard page from its cards' results."""
    specs: list[dict[str, Any]] = []
    cards = [_card_view(item, results[item.card.key], f"chart-{i}", specs) for i, item in enumerate(dashboard.layout)]
    return _render(
        "dashboard.html",
        title=dashboard.title,
        subtitle=dashboard.description,
        refresh_seconds=dashboard.auto_refresh_seconds,
        dashboards=dashboards,
        current=dashboard.slug,
        data_through=data_through,
        generated_at=generated_at,
        insights=[i for i in insights if i.dashboard == dashboard.slug],
        cards=cards,
        no_data=NO_DATA,
        # Both are made safe inside a <script> element by the functions that produce them.
        plotly_js=Markup(plotly_js()),
        chart_specs=_script_json(specs),
    )


def index_page(
    dashboards: list[Dashboard],
    insights: list[Insight],
    *,
    data_through: dt.date | None,
    generated_at: dt.datetime,
) -> str:
    """The HTML of the overview page: links to every dashboard and all insights."""
    return _render(
        "index.html",
        title="Shopflow dashboards",
        subtitle="E-commerce analytics from the warehouse marts.",
        refresh_seconds=None,
        dashboards=dashboards,
        current=None,
        data_through=data_through,
        generated_at=generated_at,
        insights=insights,
    )


def write_site(
    dashboards: list[Dashboard],
    results: dict[str, CardResult],
    out_dir: Path,
    *,
    data_through: dt.date | None = None,
    generated_at: dt.datetime | None = None,
) -> Path:
    """Write index.html and one page per dashboard into `out_dir`; return the index path."""
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    insights = compute_insights(results)
    for dashboard in dashboards:
        page = dashboard_page(
            dashboard,
            results,
            dashboards,
            insights,
            data_through=data_through,
            generated_at=generated_at,
        )
        _write_atomically(out_dir / f"{dashboard.slug}.html", page)
    index = out_dir / "index.html"
    _write_atomically(index, index_page(dashboards, insights, data_through=data_through, generated_at=generated_at))
    return index


def _write_atomically(path: Path, text: str) -> None:
    # A browser reloading on #refresh never sees a half-written page.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _data_through(dsn: str) -> dt.date | None:
    with readonly_connection(dsn) as conn:
        try:
            with conn.cursor() as cur:
                # One row per day from the first to the last order date (any status): no fact scan.
                cur.execute("select max(date_day) from marts.mart_daily_revenue")
                (value,) = cur.fetchone()
        except psycopg2.Error as exc:
            raise CardQueryError(f"cannot read the latest order date from marts.mart_daily_revenue: {exc}") from exc
        finally:
            conn.rollback()
    return value


def render_dashboards(warehouse_dsn: str, out_dir: Path | str, definitions_root: Path | str = DEFAULT_ROOT) -> Path:
    """Run every card's SQL (read only) and write the HTML dashboards; return the index.html path."""
    dashboards = _load_dashboards(definitions_root)
    results = run_cards(warehouse_dsn, all_cards(dashboards))
    return write_site(dashboards, results, Path(out_dir), data_through=_data_through(warehouse_dsn))
