"""The dashboard definitions in metabase/: model validation, clear errors, and card SQL rules."""

from __future__ import annotations

import textwrap
from functools import cache
from pathlib import Path

import pytest

from shopflow.dashboards.definitions import DefinitionError, all_cards, load_dashboards

EXPECTED_CARDS = {
    "executive": 8,
    "product_performance": 4,
    "customer_analytics": 4,
    "traffic": 5,
    "data_quality": 6,
}


# --- the real definitions --------------------------------------------------------------------------


def test_real_definitions_load_with_expected_cards():
    dashboards = load_dashboards()
    assert [d.slug for d in dashboards] == list(EXPECTED_CARDS)
    assert {d.slug: len(d.layout) for d in dashboards} == EXPECTED_CARDS
    cards = all_cards(dashboards)
    assert len(cards) == 27
    assert len({c.title for c in cards}) == 27
    for dashboard in dashboards:
        assert dashboard.auto_refresh_seconds > 0
        for item in dashboard.layout:
            assert item.col + item.size_x <= 24


def test_customer_segment_order_and_inventory_colours_are_defined():
    cards = {c.key: c for c in all_cards(load_dashboards())}
    segments = cards["customer_analytics/value_segments"]
    assert segments.visualization == "donut"
    assert segments.value_colors.column == "value_segment"
    assert list(segments.value_colors.colors) == ["VIP", "High", "Medium", "Low"]
    inventory = cards["product_performance/slow_moving_inventory"]
    assert inventory.value_colors.colors == {
        "slow-moving": "#ED6E6E",
        "watch": "#F9A846",
        "healthy": "#84BB4C",
    }
    bubble = cards["product_performance/rating_vs_sales"]
    assert (bubble.x, bubble.size) == ("rating_rate", "revenue")
    assert "rating_count" in bubble.tooltip


# --- broken definitions give errors naming the file and the field ----------------------------------

CARD_YML = """\
title: {title}
description: A test card.
visualization: {viz}
dimension: category
metrics: [revenue]
x_label: Category
y_label: Revenue
columns:
  - {{name: category, label: Category, format: text}}
  - {{name: revenue, label: Revenue, format: currency}}
"""
CARD_SQL = "select p.category, p.revenue from marts.mart_product_performance as p\n"
DASHBOARD_YML = """\
title: Test
description: A test dashboard.
position: 1
auto_refresh_seconds: 300
layout:
{layout}
"""


def _write_tree(root: Path, layout: str, cards: dict[str, tuple[str, str | None]]) -> Path:
    (root / "dashboards").mkdir()
    (root / "dashboards" / "test.yml").write_text(DASHBOARD_YML.format(layout=layout))
    folder = root / "cards" / "test"
    folder.mkdir(parents=True)
    for name, (yml, sql) in cards.items():
        (folder / f"{name}.yml").write_text(yml)
        if sql is not None:
            (folder / f"{name}.sql").write_text(sql)
    return root


def _card(title: str = "Card A", viz: str = "bar") -> str:
    return CARD_YML.format(title=title, viz=viz)


ONE = "  - {card: a, row: 0, col: 0, size_x: 12, size_y: 6}"


def test_minimal_tree_loads(tmp_path):
    dashboards = load_dashboards(_write_tree(tmp_path, ONE, {"a": (_card(), CARD_SQL)}))
    assert dashboards[0].layout[0].card.key == "test/a"


@pytest.mark.parametrize(
    ("layout", "cards", "expected"),
    [
        pytest.param(
            ONE + "\n  - {card: nope, row: 6, col: 0, size_x: 12, size_y: 6}",
            {"a": (_card(), CARD_SQL)},
            ["dashboards/test.yml", "layout.1.card", "unknown card 'nope'", "used but not defined"],
            id="unknown-card",
        ),
        pytest.param(
            ONE + "\n  - {card: b, row: 3, col: 6, size_x: 12, size_y: 6}",
            {"a": (_card(), CARD_SQL), "b": (_card("Card B"), CARD_SQL)},
            ["dashboards/test.yml", "layout.1", "overlaps layout.0"],
            id="overlapping-layout",
        ),
        pytest.param(
            ONE,
            {"a": (_card(), None)},
            ["cards/test/a.yml", "missing SQL file", "cards/test/a.sql"],
            id="missing-sql",
        ),
        pytest.param(
            ONE,
            {"a": (_card(viz="donutt"), CARD_SQL)},
            ["cards/test/a.yml", "field visualization: Input should be 'scalar', 'line',", "not 'donutt'"],
            id="bad-visualization",
        ),
        pytest.param(
            "  - {card: a, row: 0, col: 20, size_x: 6, size_y: 6}",
            {"a": (_card(), CARD_SQL)},
            ["dashboards/test.yml", "layout.0", "past the 24-column grid"],
            id="wider-than-grid",
        ),
        pytest.param(
            ONE,
            {"a": (_card().replace("metrics: [revenue]", "metrics: [profit]"), CARD_SQL)},
            ["cards/test/a.yml", "field metrics.0", "'profit' is not one of the declared columns"],
            id="metric-not-a-column",
        ),
        pytest.param(
            ONE,
            {"a": (_card().replace("x_label: Category\n", ""), CARD_SQL)},
            ["cards/test/a.yml", "field x_label: required for a bar card"],
            id="missing-axis-label",
        ),
        pytest.param(
            ONE + "\n  - {card: b, row: 6, col: 0, size_x: 12, size_y: 6}",
            {"a": (_card(), CARD_SQL), "b": (_card(), CARD_SQL)},
            ["cards/test/b.yml", "field title", "also the title of test/a"],
            id="duplicate-title",
        ),
        pytest.param(
            ONE,
            {"a": (_card(), CARD_SQL), "orphan": (_card("Orphan"), CARD_SQL)},
            ["cards/test/orphan.yml", "defined but on no dashboard"],
            id="card-on-no-dashboard",
        ),
        pytest.param(
            ONE,
            {"a": ("title: [unclosed\n", CARD_SQL)},
            ["cards/test/a.yml", "not valid YAML"],
            id="invalid-yaml",
        ),
        pytest.param(
            ONE,
            {"a": (_card().replace("format: currency", "format: money"), CARD_SQL)},
            ["cards/test/a.yml", "field columns.1.format: Input should be 'currency',", "not 'money'"],
            id="bad-format",
        ),
        pytest.param(
            "  - {card: a, row: 0, col: 0, size_x: 12}",
            {"a": (_card(), CARD_SQL)},
            ["dashboards/test.yml", "field layout.0.size_y: required"],
            id="layout-missing-size",
        ),
        pytest.param(
            ONE,
            {"a": (_card().replace("format: currency}", "format: currency, colour: '#509EE3'}"), CARD_SQL)},
            ["cards/test/a.yml", "field columns.1.colour: unknown field (a typo?), value '#509EE3'"],
            id="unknown-field",
        ),
        pytest.param(
            ONE,
            {"a": (_card().replace("dimension: category", "dimension:"), CARD_SQL)},
            ["cards/test/a.yml", "field dimension: empty: give a value or leave the field out"],
            id="empty-value",
        ),
        pytest.param(
            ONE,
            {"a": (_card().replace("format: currency}", "format: currency, decimals: '2'}"), CARD_SQL)},
            ["cards/test/a.yml", "field columns.1.decimals: Input should be a valid integer, not '2'"],
            id="text-for-a-number",
        ),
        pytest.param(
            "  - {card: a, row: 0, col: 0, size_x: 12, size_y: 6}\n  - {card: test/a, row: 6, col: 0, size_x: 12, size_y: 6}",
            {"a": (_card(), CARD_SQL)},
            ["dashboards/test.yml", "field layout.1.card: 'test/a' is already placed at layout.0"],
            id="card-placed-twice",
        ),
        pytest.param(
            ONE,
            {"a": (_card(viz="pie").replace("metrics: [revenue]", "metrics: [revenue, revenue]"), CARD_SQL)},
            ["field metrics: a pie card shows one metric, not 2", "field metrics.1: 'revenue' is listed twice"],
            id="pie-with-two-metrics",
        ),
        pytest.param(
            ONE,
            {"a": (_card().replace("metrics: [revenue]", "metrics: [category]"), CARD_SQL)},
            ["field metrics.0: column 'category' has format 'text'; a number format is needed"],
            id="text-metric",
        ),
        pytest.param(
            ONE,
            {"a": (_card() + "value_colors: {column: category, colors: {a: '#ffffff'}}\n", CARD_SQL)},
            ["cards/test/a.yml", "field value_colors: only table, pie and donut cards colour by value, not 'bar'"],
            id="value-colors-on-a-bar",
        ),
        pytest.param(
            ONE,
            {"a": ("- just\n- a list\n", CARD_SQL)},
            ["cards/test/a.yml", "field (top level): should be a mapping of fields, not ['just', 'a list']"],
            id="not-a-mapping",
        ),
    ],
)
def test_broken_definitions_name_file_and_field(tmp_path, layout, cards, expected):
    root = _write_tree(tmp_path, layout, cards)
    with pytest.raises(DefinitionError) as info:
        load_dashboards(root)
    message = str(info.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in:\n{message}"


def test_sql_file_without_yaml_is_reported(tmp_path):
    root = _write_tree(tmp_path, ONE, {"a": (_card(), CARD_SQL)})
    (root / "cards" / "test" / "stray.sql").write_text(CARD_SQL)
    with pytest.raises(DefinitionError, match=r"cards/test/stray\.sql: SQL file has no stray\.yml"):
        load_dashboards(root)


def test_every_problem_is_listed_at_once(tmp_path):
    layout = ONE + "\n  - {card: ghost, row: 6, col: 0, size_x: 12, size_y: 6}"
    root = _write_tree(tmp_path, layout, {"a": (_card(viz="pies"), CARD_SQL)})
    with pytest.raises(DefinitionError) as info:
        load_dashboards(root)
    assert len(info.value.problems) >= 2
    assert "2 problems" in str(info.value) or "3 problems" in str(info.value)


# --- card SQL rules (sqlglot is not installed here, so sqlfluff's parser reads the SQL) ------------


@cache
def _parser():
    from sqlfluff.core import Linter

    return Linter(dialect="postgres")


def _parse(sql: str):
    parsed = _parser().parse_string(sql)
    assert not parsed.violations, f"sqlfluff could not parse: {parsed.violations}"
    return parsed.tree


def _select_aliases(select_statement) -> set[str]:
    clause = next(s for s in select_statement.segments if s.is_type("select_clause"))
    aliases = set()
    for element in clause.recursive_crawl("select_clause_element", no_recursive_seg_type="select_statement"):
        for alias in element.recursive_crawl("alias_expression", no_recursive_seg_type="select_statement"):
            ident = [s for s in alias.segments if s.is_type("identifier", "naked_identifier", "quoted_identifier")]
            aliases.add(ident[-1].raw.lower())
    return aliases


# Cards read marts at the grain they show; adding up these facts' rows grows with the data.
LINE_GRAIN_FACTS = {"marts.fact_orders", "marts.fact_events"}


def sql_rule_violations(sql: str) -> list[str]:
    """Problems with a card's SQL: aliases or ordinals in GROUP BY/ORDER BY, uppercase keywords,
    more than one statement, tables outside schema marts (or ops, the quality gate's record, which the
    Data Quality dashboard reads), line-grain facts (docs/performance.md)."""
    tree = _parse(sql)
    problems = []
    statements = [s for s in tree.segments if s.is_type("statement")]
    if len(statements) != 1:
        problems.append(f"{len(statements)} statements, expected exactly one")
    for select in tree.recursive_crawl("select_statement"):
        aliases = _select_aliases(select)
        for clause in select.segments:
            if not clause.is_type("groupby_clause", "orderby_clause"):
                continue
            kind = "group by" if clause.is_type("groupby_clause") else "order by"
            for child in clause.segments:
                if child.is_type("numeric_literal"):
                    problems.append(f"ordinal {child.raw} in {kind}")
            for ref in clause.recursive_crawl("column_reference", no_recursive_seg_type="select_statement"):
                if "." not in ref.raw and ref.raw.lower() in aliases:
                    problems.append(f"alias {ref.raw!r} in {kind}")
    for keyword in tree.recursive_crawl("keyword"):
        if keyword.raw != keyword.raw.lower():
            problems.append(f"keyword {keyword.raw!r} is not lowercase")
    cte_names = {cte.segments[0].raw.lower() for cte in tree.recursive_crawl("common_table_expression")}
    for table in tree.recursive_crawl("table_reference"):
        name = table.raw.lower()
        if "." in name:
            if not name.startswith(("marts.", "ops.")):
                problems.append(f"table {table.raw} is outside schemas marts and ops")
            elif name in LINE_GRAIN_FACTS:
                problems.append(f"table {table.raw} is a line-grain fact: read a mart at the card's grain")
        elif name not in cte_names:
            problems.append(f"table {table.raw} is neither a CTE nor schema-qualified in marts")
    return problems


def final_select_columns(sql: str) -> list[str]:
    """Output column names of the statement's outermost select, read from the SQL text."""
    tree = _parse(sql)
    statement = next(tree.recursive_crawl("select_statement", "with_compound_statement"))
    if statement.is_type("with_compound_statement"):
        statement = next(s for s in statement.segments if s.is_type("select_statement"))
    clause = next(s for s in statement.segments if s.is_type("select_clause"))
    names = []
    for element in clause.segments:
        if not element.is_type("select_clause_element"):
            continue
        alias = next(element.recursive_crawl("alias_expression"), None)
        if alias is not None:
            ident = [s for s in alias.segments if s.is_type("identifier", "naked_identifier")]
            names.append(ident[-1].raw.lower())
        else:
            names.append(element.raw.split(".")[-1].strip().lower())
    return names


CARDS = all_cards(load_dashboards())


def test_rule_checker_catches_violations():
    bad = textwrap.dedent(
        """\
        with t as (
            select p.category, sum(p.revenue) as revenue
            from marts.mart_product_performance as p
            group by p.category
            order by revenue desc
        )
        SELECT t.category as cat, t.revenue from t join public.other as o on true
        join marts.fact_orders as f on true order by cat, 2
        """
    )
    problems = sql_rule_violations(bad)
    assert "alias 'revenue' in order by" in problems
    assert "alias 'cat' in order by" in problems
    assert "ordinal 2 in order by" in problems
    assert "keyword 'SELECT' is not lowercase" in problems
    assert "table public.other is outside schemas marts and ops" in problems
    assert "table marts.fact_orders is a line-grain fact: read a mart at the card's grain" in problems


@pytest.mark.parametrize("card", CARDS, ids=[c.key for c in CARDS])
def test_card_sql_follows_the_rules(card):
    assert sql_rule_violations(card.sql) == [], card.sql_path


@pytest.mark.parametrize("card", CARDS, ids=[c.key for c in CARDS])
def test_card_sql_returns_the_declared_columns(card):
    assert final_select_columns(card.sql) == list(card.column_names), card.sql_path
