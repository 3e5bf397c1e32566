"""Built-in HTML dashboards: one self-contained page per dashboard plus an index.

Pages work from file:// with no network: Plotly's JavaScript is inlined from the installed plotly
package, charts are drawn from JSON embedded in the page, and JavaScript errors are written into a
hidden element (`#js-errors`) so a headless browser's `--dump-dom` can check them.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg2

from shopflow.dashboards.definitions import DEFAULT_ROOT, Card, Dashboard, LayoutItem, all_cards
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


def _script_json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


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


def _axis(title: str | None, column: Any) -> dict[str, Any]:
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


def _hover_value(column: Any, ref: str) -> str:
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
    colors = [card.value_colors.get(label, PALETTE[i % len(PALETTE)]) for i, label in enumerate(labels)]
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


# --- card bodies -----------------------------------------------------------------------------------


def _scalar_html(result: CardResult) -> str:
    card = result.card
    last = result.records()[-1]
    value = format_value(last[card.column(card.value).name], card.column(card.value))
    parts = [f'<div class="scalar-value">{html.escape(value)}</div>']
    if card.trend_period:
        period = format_date(last[card.column(card.trend_period).name], card.column(card.trend_period).date_unit)
        growth = last[card.column(card.trend_growth).name]
        if growth is None or len(result.rows) < 2:
            delta = '<span class="delta flat">no earlier period to compare</span>'
        else:
            previous = result.records()[-2][card.trend_period]
            previous_label = format_date(previous, card.column(card.trend_period).date_unit)
            arrow, css = ("▲", "up") if growth >= 0 else ("▼", "down")
            magnitude = format_value(abs(growth), card.column(card.trend_growth))
            delta = (
                f'<span class="delta {css}">{arrow} {html.escape(magnitude)}</span> vs {html.escape(previous_label)}'
            )
        parts.append(f'<div class="scalar-sub">{html.escape(period)} · {delta}</div>')
    return f'<div class="scalar">{"".join(parts)}</div>'


def _table_html(result: CardResult) -> str:
    card = result.card
    numeric = {c.name for c in card.columns if c.format in ("currency", "percent", "number")}
    head = "".join(
        f'<th class="{"num" if c.name in numeric else ""}">{html.escape(c.label)}</th>' for c in card.columns
    )
    body_rows = []
    for row in result.rows:
        cells = []
        for col, value in zip(card.columns, row, strict=True):
            text = html.escape(format_value(value, col))
            css = "num" if col.name in numeric else ""
            if col.name == card.value_colors_column and str(value) in card.value_colors:
                color = card.value_colors[str(value)]
                text = f'<span class="badge" style="background:{color}">{text}</span>'
            cells.append(f'<td class="{css}">{text}</td>')
        body_rows.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table></div>"
    )


def _card_html(item: LayoutItem, result: CardResult, chart_id: str, specs: list[dict[str, Any]]) -> str:
    card = result.card
    style = f"grid-column:{item.col + 1} / span {item.size_x};grid-row:{item.row + 1} / span {item.size_y}"
    if _is_empty(result):
        body = f'<div class="no-data">{NO_DATA}</div>'
    elif card.visualization == "scalar":
        body = _scalar_html(result)
    elif card.visualization == "table":
        body = _table_html(result)
    else:
        specs.append({"id": chart_id, **chart_figure(result)})
        body = f'<div class="chart" id="{chart_id}"></div>'
    return (
        f'<section class="card card-{card.visualization}" style="{style}" '
        f'data-card="{html.escape(card.key)}" title="{html.escape(card.description)}">'
        f"<h2>{html.escape(card.title)}</h2>{body}</section>"
    )


# --- pages -----------------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#F9FBFC;
color:#2E353B}
header{background:#fff;border-bottom:1px solid #E3E7EB;padding:12px 24px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;color:#696E7B;font-size:13px}
nav{display:flex;flex-wrap:wrap;gap:14px;margin-top:10px;font-size:14px}
nav a{color:#509EE3;text-decoration:none}
nav a.current{font-weight:700;color:#2E353B}
main{padding:16px 24px}
.insights{background:#fff;border:1px solid #E3E7EB;border-left:4px solid #509EE3;border-radius:6px;
padding:10px 16px;margin-bottom:16px}
.insights h2{font-size:14px;margin:4px 0 6px;text-transform:uppercase;letter-spacing:.04em;color:#696E7B}
.insights ul{margin:0;padding-left:18px}
.insights li{margin:4px 0;font-size:14px}
.grid{display:grid;grid-template-columns:repeat(24,minmax(0,1fr));grid-auto-rows:GRID_ROW_PXpx;gap:10px}
.card{background:#fff;border:1px solid #E3E7EB;border-radius:8px;padding:10px 12px;display:flex;
flex-direction:column;min-width:0;overflow:hidden}
.card h2{font-size:14px;margin:0 0 6px;color:#4C5773}
.chart{flex:1;min-height:0}
.scalar{flex:1;display:flex;flex-direction:column;justify-content:center}
.scalar-value{font-size:34px;font-weight:700;line-height:1.15}
.scalar-sub{font-size:13px;color:#696E7B;margin-top:4px}
.delta.up{color:#2E8B57}.delta.down{color:#C94A4A}.delta.flat{color:#696E7B}
.no-data{flex:1;display:flex;align-items:center;justify-content:center;color:#949AAB;font-size:16px;
border:1px dashed #D7DBDE;border-radius:6px}
.table-wrap{flex:1;overflow:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th{position:sticky;top:0;background:#F3F5F7;text-align:left;padding:5px 8px;font-weight:600}
td{padding:4px 8px;border-top:1px solid #EEF0F2;white-space:nowrap}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600}
.dashboards{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));
gap:12px}
.dashboards li{background:#fff;border:1px solid #E3E7EB;border-radius:8px;padding:12px 16px}
.dashboards a{font-size:17px;font-weight:600;color:#509EE3;text-decoration:none}
.dashboards p{font-size:13px;color:#696E7B;margin:6px 0 0}
footer{padding:8px 24px 24px;color:#949AAB;font-size:12px}
@media (max-width:900px){.grid{display:block}.card{margin-bottom:10px;height:360px}
.card-scalar{height:120px}}
""".replace("GRID_ROW_PX", str(GRID_ROW_PX))

# Installed before anything else so errors thrown while Plotly loads are caught too.
_ERROR_HOOK = """
(function(){
  var errors = [];
  function flush(){
    var el = document.getElementById('js-errors');
    if (el) { el.textContent = errors.join('\\n'); }
    if (document.body) { document.body.setAttribute('data-js-errors', String(errors.length)); }
  }
  function record(message){ errors.push(String(message)); flush(); }
  window.addEventListener('error', function(e){
    record((e.message || 'error') + (e.filename ? ' at ' + e.filename + ':' + e.lineno : ''));
  });
  window.addEventListener('unhandledrejection', function(e){
    var r = e.reason; record('unhandled rejection: ' + (r && r.message ? r.message : r));
  });
  document.addEventListener('DOMContentLoaded', flush);
  window.__shopflowRecordError = record;
})();
"""

_DRAW = """
(function(){
  var specs = JSON.parse(document.getElementById('chart-specs').textContent);
  var config = {responsive: true, displaylogo: false, displayModeBar: false};
  var drawn = 0;
  document.body.setAttribute('data-charts-expected', String(specs.length));
  document.body.setAttribute('data-charts-rendered', '0');
  specs.forEach(function(spec){
    try {
      Plotly.newPlot(spec.id, spec.data, spec.layout, config).then(function(){
        drawn += 1;
        document.body.setAttribute('data-charts-rendered', String(drawn));
      }, function(err){ window.__shopflowRecordError('chart ' + spec.id + ': ' + err); });
    } catch (err) {
      window.__shopflowRecordError('chart ' + spec.id + ': ' + (err && err.message ? err.message : err));
    }
  });
})();
"""


def _page(
    title: str,
    subtitle: str,
    nav: str,
    content: str,
    *,
    refresh_seconds: int | None,
    scripts: str = "",
) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{refresh}<title>{html.escape(title)} · Shopflow</title>"
        f"<style>{_CSS}</style><script>{_ERROR_HOOK}</script></head>"
        f"<body><header><h1>{html.escape(title)}</h1><p>{subtitle}</p>{nav}</header>"
        f"<main>{content}</main>"
        '<pre id="js-errors" hidden></pre>'
        "<footer>Generated by shopflow from metabase/ definitions; the same cards are provisioned "
        "to Metabase.</footer>"
        f"{scripts}</body></html>\n"
    )


def _nav(dashboards: list[Dashboard], current: str | None) -> str:
    links = [f'<a href="index.html" class="{"current" if current is None else ""}">Overview</a>']
    for d in dashboards:
        css = "current" if d.slug == current else ""
        links.append(f'<a href="{d.slug}.html" class="{css}">{html.escape(d.title)}</a>')
    return f"<nav>{''.join(links)}</nav>"


def _insights_html(insights: list[Insight], heading: str = "Insights") -> str:
    if not insights:
        return ""
    items = "".join(f"<li><strong>{html.escape(i.title)}:</strong> {html.escape(i.text)}</li>" for i in insights)
    return f'<section class="insights"><h2>{html.escape(heading)}</h2><ul>{items}</ul></section>'


def _subtitle(text: str, data_through: dt.date | None, generated_at: dt.datetime) -> str:
    parts = [html.escape(text)]
    if data_through is not None:
        parts.append(f"Data through {data_through.isoformat()} (latest order, UTC).")
    parts.append(f"Rendered {generated_at.strftime('%Y-%m-%d %H:%M')} UTC.")
    return " ".join(parts)


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
    cards_html = "".join(
        _card_html(item, results[item.card.key], f"chart-{i}", specs) for i, item in enumerate(dashboard.layout)
    )
    content = (
        _insights_html([i for i in insights if i.dashboard == dashboard.slug]) + f'<div class="grid">{cards_html}</div>'
    )
    scripts = (
        f"<script>{plotly_js()}</script>"
        f'<script type="application/json" id="chart-specs">{_script_json(specs)}</script>'
        f"<script>{_DRAW}</script>"
    )
    return _page(
        dashboard.title,
        _subtitle(dashboard.description, data_through, generated_at),
        _nav(dashboards, dashboard.slug),
        content,
        refresh_seconds=dashboard.auto_refresh_seconds,
        scripts=scripts,
    )


def index_page(
    dashboards: list[Dashboard],
    insights: list[Insight],
    *,
    data_through: dt.date | None,
    generated_at: dt.datetime,
) -> str:
    """The HTML of the overview page: links to every dashboard and all insights."""
    items = "".join(
        f'<li><a href="{d.slug}.html">{html.escape(d.title)}</a>'
        f"<p>{html.escape(d.description)}</p><p>{len(d.layout)} cards</p></li>"
        for d in dashboards
    )
    content = _insights_html(insights, "Key insights") + f'<ul class="dashboards">{items}</ul>'
    return _page(
        "Shopflow dashboards",
        _subtitle("E-commerce analytics from the warehouse marts.", data_through, generated_at),
        _nav(dashboards, None),
        content,
        refresh_seconds=None,
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
