"""Dashboards as code: load and validate `metabase/` (card SQL + YAML, dashboard layouts).

The same definitions feed the built-in HTML dashboards and Metabase provisioning, so everything
either of them relies on is checked here, once, with errors that name the file and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from shopflow.config import PROJECT_ROOT
from shopflow.errors import ShopflowError

DEFAULT_ROOT = PROJECT_ROOT / "metabase"
GRID_COLUMNS = 24  # Metabase's dashboard grid (GRID_WIDTH in its frontend/src/metabase/lib/dashboard_grid).

VISUALIZATIONS = ("scalar", "line", "bar", "row", "pie", "donut", "table", "bubble", "funnel")
FORMATS = ("currency", "percent", "number", "date", "text")


class DefinitionError(ShopflowError, ValueError):
    """The dashboard definitions are invalid; the message lists every problem with file and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        count = len(problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the dashboard definitions:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


@dataclass(frozen=True)
class Column:
    """One column of a card's result and how to show it."""

    name: str
    label: str
    format: str
    decimals: int | None = None
    date_unit: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class Card:
    """A card: SQL over the marts plus how to show its result."""

    key: str  # "<folder>/<name>", unique
    title: str
    description: str
    visualization: str
    columns: tuple[Column, ...]
    sql: str
    sql_path: Path
    yml_path: Path
    dimension: str | None = None
    metrics: tuple[str, ...] = ()
    x_label: str | None = None
    y_label: str | None = None
    value: str | None = None
    trend_period: str | None = None
    trend_growth: str | None = None
    x: str | None = None
    y: str | None = None
    size: str | None = None
    label: str | None = None
    tooltip: tuple[str, ...] = ()
    value_colors_column: str | None = None
    value_colors: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str | None) -> Column:
        """Return the declared column `name` (KeyError names the card when it is not declared).

        `name` is one of the card's optional settings (`value`, `dimension`...): None means the card
        lacks the setting its visualization needs, which is the same error.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"card {self.key} declares no column {name!r}")


@dataclass(frozen=True)
class LayoutItem:
    """A card placed on a dashboard's 24-column grid."""

    card: Card
    row: int
    col: int
    size_x: int
    size_y: int


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: title, refresh interval and card layout."""

    slug: str
    title: str
    description: str
    position: int
    auto_refresh_seconds: int
    layout: tuple[LayoutItem, ...]
    path: Path

    @property
    def cards(self) -> tuple[Card, ...]:
        return tuple(item.card for item in self.layout)


@cache
def _validator(root: Path, name: str) -> Draft202012Validator:
    path = root / "schema" / f"{name}.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _schema_problems(validator: Draft202012Validator, doc: Any, where: str) -> list[str]:
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
        location = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{where}: field {location}: {error.message}")
    return problems


class _Unreadable:
    """Marks a YAML file that could not be read; the problem is already recorded."""


def _read_yaml(path: Path, where: str, problems: list[str]) -> Any:
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        problems.append(f"{where}: file is empty")
        return _Unreadable
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problems.append(f"{where}: not valid YAML: {exc}")
        return _Unreadable


def _column_refs(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, column name) pairs a card's options refer to."""
    refs: list[tuple[str, str]] = []
    for key in ("dimension", "value", "x", "y", "size", "label"):
        if key in doc:
            refs.append((key, doc[key]))
    for key in ("metrics", "tooltip"):
        refs.extend((f"{key}.{i}", name) for i, name in enumerate(doc.get(key, [])))
    if "trend" in doc:
        refs.extend((f"trend.{k}", v) for k, v in doc["trend"].items())
    if "value_colors" in doc:
        refs.append(("value_colors.column", doc["value_colors"]["column"]))
    return refs


def _card_semantics(doc: dict[str, Any], where: str) -> list[str]:
    problems = []
    names = [c["name"] for c in doc["columns"]]
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name in seen:
            problems.append(f"{where}: field columns.{i}.name: column {name!r} is declared twice")
        seen.add(name)
    for field_name, name in _column_refs(doc):
        if name not in seen:
            problems.append(f"{where}: field {field_name}: {name!r} is not one of the declared columns {names}")
    by_name = {c["name"]: c for c in doc["columns"]}
    numeric = {"currency", "percent", "number"}
    for field_name in ("value", "x", "y", "size"):
        name = doc.get(field_name)
        if name in by_name and by_name[name]["format"] not in numeric:
            problems.append(
                f"{where}: field {field_name}: column {name!r} has format "
                f"{by_name[name]['format']!r}; a number format is needed"
            )
    for i, name in enumerate(doc.get("metrics", [])):
        if name in by_name and by_name[name]["format"] not in numeric:
            problems.append(
                f"{where}: field metrics.{i}: column {name!r} has format "
                f"{by_name[name]['format']!r}; a number format is needed"
            )
    growth = doc.get("trend", {}).get("growth")
    if growth in by_name and by_name[growth]["format"] != "percent":
        problems.append(f"{where}: field trend.growth: column {growth!r} must have format 'percent'")
    if "value_colors" in doc and doc["visualization"] not in ("table", "pie", "donut"):
        problems.append(
            f"{where}: field value_colors: only table, pie and donut cards colour by value, "
            f"not {doc['visualization']!r}"
        )
    return problems


def _load_cards(root: Path, problems: list[str]) -> dict[str, Card]:
    cards: dict[str, Card] = {}
    cards_dir = root / "cards"
    if not cards_dir.is_dir():
        problems.append(f"{_rel(cards_dir, root)}: folder is missing")
        return cards
    validator = _validator(root, "card")
    for folder in sorted(p for p in cards_dir.iterdir() if p.is_dir()):
        stems = {p.stem for p in folder.glob("*.yml")} | {p.stem for p in folder.glob("*.sql")}
        for stem in sorted(stems):
            yml_path, sql_path = folder / f"{stem}.yml", folder / f"{stem}.sql"
            where = _rel(yml_path, root)
            if not yml_path.exists():
                problems.append(f"{_rel(sql_path, root)}: SQL file has no {yml_path.name} beside it")
                continue
            if not sql_path.exists():
                problems.append(f"{where}: missing SQL file {_rel(sql_path, root)}")
                continue
            doc = _read_yaml(yml_path, where, problems)
            if doc is _Unreadable:
                continue
            schema_problems = _schema_problems(validator, doc, where)
            if schema_problems:
                problems.extend(schema_problems)
                continue
            semantic = _card_semantics(doc, where)
            if semantic:
                problems.extend(semantic)
                continue
            sql = sql_path.read_text(encoding="utf-8").strip()
            if not sql:
                problems.append(f"{_rel(sql_path, root)}: SQL file is empty")
                continue
            key = f"{folder.name}/{stem}"
            trend = doc.get("trend", {})
            value_colors = doc.get("value_colors", {})
            cards[key] = Card(
                key=key,
                title=doc["title"],
                description=doc["description"].strip(),
                visualization=doc["visualization"],
                columns=tuple(Column(**c) for c in doc["columns"]),
                sql=sql.rstrip(";").rstrip(),
                sql_path=sql_path,
                yml_path=yml_path,
                dimension=doc.get("dimension"),
                metrics=tuple(doc.get("metrics", ())),
                x_label=doc.get("x_label"),
                y_label=doc.get("y_label"),
                value=doc.get("value"),
                trend_period=trend.get("period"),
                trend_growth=trend.get("growth"),
                x=doc.get("x"),
                y=doc.get("y"),
                size=doc.get("size"),
                label=doc.get("label"),
                tooltip=tuple(doc.get("tooltip", ())),
                value_colors_column=value_colors.get("column"),
                value_colors=dict(value_colors.get("colors", {})),
            )
    titles: dict[str, str] = {}
    for key, card in cards.items():
        if card.title in titles:
            problems.append(
                f"{_rel(card.yml_path, root)}: field title: {card.title!r} is also the title of "
                f"{titles[card.title]}; titles must be unique (Metabase cards are matched by name)"
            )
        titles.setdefault(card.title, key)
    return cards


def _overlaps(items: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, int]]:
    clashes = []
    for a_pos, (i, a) in enumerate(items):
        for j, b in items[a_pos + 1 :]:
            if (
                a["col"] < b["col"] + b["size_x"]
                and b["col"] < a["col"] + a["size_x"]
                and a["row"] < b["row"] + b["size_y"]
                and b["row"] < a["row"] + a["size_y"]
            ):
                clashes.append((i, j))
    return clashes


def load_dashboards(root: Path | str = DEFAULT_ROOT) -> list[Dashboard]:
    """Load and validate every dashboard under `root`; raise DefinitionError listing all problems."""
    root = Path(root).resolve()
    problems: list[str] = []
    if not root.is_dir():
        raise DefinitionError([f"{root}: definitions folder does not exist"])
    cards = _load_cards(root, problems)
    dashboards_dir = root / "dashboards"
    paths = sorted(dashboards_dir.glob("*.yml")) if dashboards_dir.is_dir() else []
    if not paths:
        problems.append(f"{_rel(dashboards_dir, root)}: no dashboard .yml files")
    validator = _validator(root, "dashboard")
    used: set[str] = set()
    dashboards: list[Dashboard] = []
    dashboard_titles: dict[str, str] = {}
    for path in paths:
        where = _rel(path, root)
        doc = _read_yaml(path, where, problems)
        if doc is _Unreadable:
            continue
        schema_problems = _schema_problems(validator, doc, where)
        if schema_problems:
            problems.extend(schema_problems)
            continue
        slug = path.stem
        if doc["title"] in dashboard_titles:
            problems.append(
                f"{where}: field title: {doc['title']!r} is also the title of "
                f"{dashboard_titles[doc['title']]}; dashboard titles must be unique"
            )
        dashboard_titles.setdefault(doc["title"], where)
        local_problems: list[str] = []
        items: list[LayoutItem] = []
        placed: dict[str, int] = {}
        for i, entry in enumerate(doc["layout"]):
            ref = entry["card"]
            key = ref if "/" in ref else f"{slug}/{ref}"
            if entry["col"] + entry["size_x"] > GRID_COLUMNS:
                local_problems.append(
                    f"{where}: field layout.{i}: card {ref!r} spans columns {entry['col']}-"
                    f"{entry['col'] + entry['size_x'] - 1}, past the {GRID_COLUMNS}-column grid"
                )
            if key in placed:
                local_problems.append(
                    f"{where}: field layout.{i}.card: {ref!r} is already placed at layout.{placed[key]}"
                )
            placed.setdefault(key, i)
            card = cards.get(key)
            if card is None:
                expected = root / "cards" / key
                local_problems.append(
                    f"{where}: field layout.{i}.card: unknown card {ref!r}: it is used but not defined "
                    f"(expected {_rel(expected.with_suffix('.yml'), root)} and .sql)"
                )
                continue
            used.add(key)
            items.append(LayoutItem(card, entry["row"], entry["col"], entry["size_x"], entry["size_y"]))
        for i, j in _overlaps(list(enumerate(doc["layout"]))):
            local_problems.append(
                f"{where}: field layout.{j}: card {doc['layout'][j]['card']!r} overlaps "
                f"layout.{i} ({doc['layout'][i]['card']!r})"
            )
        if local_problems:
            problems.extend(local_problems)
            continue
        items.sort(key=lambda it: (it.row, it.col))
        dashboards.append(
            Dashboard(
                slug=slug,
                title=doc["title"],
                description=doc["description"].strip(),
                position=doc["position"],
                auto_refresh_seconds=doc["auto_refresh_seconds"],
                layout=tuple(items),
                path=path,
            )
        )
    positions: dict[int, str] = {}
    for dashboard in dashboards:
        if dashboard.position in positions:
            problems.append(
                f"{_rel(dashboard.path, root)}: field position: {dashboard.position} is also the "
                f"position of {positions[dashboard.position]}"
            )
        positions.setdefault(dashboard.position, _rel(dashboard.path, root))
    dashboards.sort(key=lambda d: d.position)
    if not problems:
        for key in sorted(set(cards) - used):
            problems.append(f"{_rel(cards[key].yml_path, root)}: card {key!r} is defined but on no dashboard")
    if problems:
        raise DefinitionError(problems)
    return dashboards


def all_cards(dashboards: list[Dashboard]) -> list[Card]:
    """Every distinct card of `dashboards`, in dashboard then layout order."""
    seen: dict[str, Card] = {}
    for dashboard in dashboards:
        for card in dashboard.cards:
            seen.setdefault(card.key, card)
    return list(seen.values())
