"""Dashboards as code: load and validate `metabase/` (card SQL + YAML, dashboard layouts).

The same definitions feed the built-in HTML dashboards and Metabase provisioning, so everything
either of them relies on is checked here, once, with errors that name the file and the field.
Each YAML file is read into a pydantic model: field types and ranges are declared on the models
(`CardSpec`, `DashboardSpec`), rules between the fields of one file in their validators (a line
card needs axis labels, a metric must be a declared column, two cards must not overlap), and rules
across files (unique titles, every card placed exactly where it is defined) in `load_dashboards`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shopflow.config import PROJECT_ROOT
from shopflow.errors import ShopflowError

DEFAULT_ROOT = PROJECT_ROOT / "metabase"
GRID_COLUMNS = 24  # Metabase's dashboard grid (GRID_WIDTH in its frontend/src/metabase/lib/dashboard_grid).

Visualization = Literal["scalar", "line", "bar", "row", "pie", "donut", "table", "bubble", "funnel"]
Format = Literal["currency", "percent", "number", "date", "text"]
NUMERIC_FORMATS = ("currency", "percent", "number")

# Which optional fields each visualization needs (Metabase and the HTML pages both read them).
REQUIRED_BY_VISUALIZATION: dict[str, tuple[str, ...]] = {
    "line": ("dimension", "metrics", "x_label", "y_label"),
    "bar": ("dimension", "metrics", "x_label", "y_label"),
    "row": ("dimension", "metrics", "x_label", "y_label"),
    "pie": ("dimension", "metrics"),
    "donut": ("dimension", "metrics"),
    "funnel": ("dimension", "metrics"),
    "scalar": ("value",),
    "bubble": ("x", "y", "size", "label", "x_label", "y_label"),
}
SINGLE_METRIC = ("pie", "donut", "funnel")
VALUE_COLORED = ("table", "pie", "donut")

# Strict: YAML's `yes`, `1` or `2026-01-01` are not silently turned into the text or number expected.
Text = Annotated[str, Strict(), StringConstraints(min_length=1)]
Title = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=100)]
# Stripped after the check, as folded YAML (`>`) ends with a newline; a description of blanks loads
# and is refused by Metabase provisioning, whose rule (non-blank) it is.
Description = Annotated[str, Strict(), StringConstraints(min_length=1), AfterValidator(lambda text: text.strip())]
ColumnName = Annotated[str, Strict(), StringConstraints(pattern=r"^[a-z_][a-z0-9_]*$")]
Color = Annotated[str, Strict(), StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
# A card in metabase/cards/<this dashboard>/, or <other dashboard>/<card>.
CardRef = Annotated[str, Strict(), StringConstraints(pattern=r"^([a-z0-9_]+/)?[a-z0-9_]+$")]
Decimals = Annotated[int, Strict(), Field(ge=0, le=6)]
Position = Annotated[int, Strict(), Field(ge=1)]
GridRow = Annotated[int, Strict(), Field(ge=0)]
GridColumn = Annotated[int, Strict(), Field(ge=0, le=GRID_COLUMNS - 1)]
Width = Annotated[int, Strict(), Field(ge=1, le=GRID_COLUMNS)]
Height = Annotated[int, Strict(), Field(ge=1, le=40)]


class DefinitionError(ShopflowError, ValueError):
    """The dashboard definitions are invalid; the message lists every problem with file and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        count = len(problems)
        header = f"{count} problem{'s' if count != 1 else ''} in the dashboard definitions:"
        super().__init__("\n".join([header, *(f"  - {p}" for p in problems)]))


class _Problems:
    """Problems a validator finds, each at a field: raised together as one pydantic ValidationError.

    pydantic prefixes the locations with the path to the model, so a problem found in a column is
    reported as `columns.2.name` like any type error.
    """

    def __init__(self, model: str):
        self.model = model
        self.details: list[InitErrorDetails] = []

    def add(self, loc: tuple[str | int, ...], text: str, value: Any = None) -> None:
        # The text goes in as context: braces in it (a dict, a set) are not taken for placeholders.
        error = PydanticCustomError("definition", "{text}", {"text": text})
        self.details.append(InitErrorDetails(type=error, loc=loc, input=value))

    def raise_any(self) -> None:
        if self.details:
            raise ValidationError.from_exception_data(self.model, self.details)


class _Definition(BaseModel):
    """A mapping in a definition file: unknown keys are errors, nothing is changed after loading."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        # An empty YAML value (`dimension:`) is null: an omission to report, not a default to apply.
        if isinstance(data, dict):
            problems = _Problems(cls.__name__)
            for key, value in data.items():
                if value is None and key in cls.model_fields:
                    problems.add((key,), "empty: give a value or leave the field out")
            problems.raise_any()
        return data


class Column(_Definition):
    """One column of a card's result and how to show it."""

    name: ColumnName
    label: Text
    format: Format  # percent columns hold fractions: 0.25 is shown as 25%
    decimals: Decimals | None = None
    date_unit: Literal["day", "month"] | None = None
    color: Color | None = None


class Trend(_Definition):
    """A scalar's trend: the last row is shown; `period` names it, `growth` (a fraction) is the change."""

    period: ColumnName
    growth: ColumnName


class ValueColors(_Definition):
    """Colour by value: the table cells of one column, or the slices of a pie or donut (in this order)."""

    column: ColumnName
    colors: Annotated[dict[Annotated[str, Strict()], Color], Field(min_length=1)]


class CardSpec(_Definition):
    """`cards/<dashboard>/<card>.yml`: how to show the result of the `.sql` file beside it."""

    title: Title  # unique across all cards: Metabase provisioning matches cards by name
    description: Description
    visualization: Visualization
    columns: Annotated[tuple[Column, ...], Field(min_length=1)]  # exactly the SQL's columns, in order
    dimension: ColumnName | None = None  # x axis (line, bar), categories (row), slices (pie), steps (funnel)
    metrics: Annotated[tuple[ColumnName, ...], Field(min_length=1)] = ()
    x_label: Text | None = None
    y_label: Text | None = None
    value: ColumnName | None = None  # scalar: the number shown
    trend: Trend | None = None
    x: ColumnName | None = None
    y: ColumnName | None = None
    size: ColumnName | None = None
    label: ColumnName | None = None  # bubble: the text naming each point
    tooltip: tuple[ColumnName, ...] = ()
    value_colors: ValueColors | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column_refs(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """(location, column name) of every option that names a result column."""
        for key in ("dimension", "value", "x", "y", "size", "label"):
            name = getattr(self, key)
            if name is not None:
                yield (key,), name
        for key in ("metrics", "tooltip"):
            for i, name in enumerate(getattr(self, key)):
                yield (key, i), name
        if self.trend is not None:
            yield ("trend", "period"), self.trend.period
            yield ("trend", "growth"), self.trend.growth
        if self.value_colors is not None:
            yield ("value_colors", "column"), self.value_colors.column

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = _Problems(type(self).__name__)
        viz = self.visualization
        for key in REQUIRED_BY_VISUALIZATION.get(viz, ()):
            if not getattr(self, key):
                problems.add((key,), f"required for a {viz} card")
        if viz in SINGLE_METRIC and len(self.metrics) > 1:
            problems.add(("metrics",), f"a {viz} card shows one metric, not {len(self.metrics)}", list(self.metrics))
        for i, name in enumerate(self.metrics):
            if name in self.metrics[:i]:
                problems.add(("metrics", i), f"{name!r} is listed twice", name)
        by_name: dict[str, Column] = {}
        for i, col in enumerate(self.columns):
            if col.name in by_name:
                problems.add(("columns", i, "name"), f"column {col.name!r} is declared twice", col.name)
            by_name.setdefault(col.name, col)
        names = [c.name for c in self.columns]
        for loc, name in self.column_refs():
            if name not in by_name:
                problems.add(loc, f"{name!r} is not one of the declared columns {names}", name)
        numeric: list[tuple[tuple[str | int, ...], str | None]] = [
            (("value",), self.value),
            (("x",), self.x),
            (("y",), self.y),
            (("size",), self.size),
        ]
        numeric += [(("metrics", i), name) for i, name in enumerate(self.metrics)]
        for loc, ref in numeric:
            if ref is not None and ref in by_name and by_name[ref].format not in NUMERIC_FORMATS:
                problems.add(loc, f"column {ref!r} has format {by_name[ref].format!r}; a number format is needed", ref)
        if self.trend is not None and self.trend.growth in by_name and by_name[self.trend.growth].format != "percent":
            problems.add(("trend", "growth"), f"column {self.trend.growth!r} must have format 'percent'")
        if self.value_colors is not None and viz not in VALUE_COLORED:
            problems.add(("value_colors",), f"only table, pie and donut cards colour by value, not {viz!r}")
        problems.raise_any()
        return self


class Card(CardSpec):
    """A card: its YAML plus where it was read from and its SQL over the marts."""

    key: str  # "<folder>/<name>", unique
    sql: str
    sql_path: Path
    yml_path: Path

    def column(self, name: str | None) -> Column:
        """Return the declared column `name` (KeyError names the card when it is not declared).

        `name` is one of the card's optional settings (`value`, `dimension`...): None means the card
        lacks the setting its visualization needs, which is the same error.
        """
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"card {self.key} declares no column {name!r}")


class Placement(_Definition):
    """A card placed on a dashboard's 24-column grid (rows and columns count from 0)."""

    card: CardRef
    row: GridRow
    col: GridColumn
    size_x: Width
    size_y: Height

    def overlaps(self, other: Placement) -> bool:
        return (
            self.col < other.col + other.size_x
            and other.col < self.col + self.size_x
            and self.row < other.row + other.size_y
            and other.row < self.row + self.size_y
        )


def card_key(ref: str, dashboard_slug: str) -> str:
    """A layout's card reference as a card key: a bare name is a card of the dashboard's own folder."""
    return ref if "/" in ref else f"{dashboard_slug}/{ref}"


class DashboardSpec(_Definition):
    """`dashboards/<slug>.yml`: title, refresh interval and card layout.

    Validate with `context={"slug": ...}` so that `card` and `<slug>/card` count as the same card.
    """

    title: Title  # unique across dashboards
    description: Description
    position: Position  # order in the HTML index and navigation; unique
    # Metabase's #refresh=N choices; also the HTML page's refresh.
    auto_refresh_seconds: Literal[60, 300, 600, 900, 1800, 3600]
    layout: Annotated[tuple[Placement, ...], Field(min_length=1)]

    @model_validator(mode="after")
    def _fits_the_grid(self, info: ValidationInfo) -> Self:
        problems = _Problems(type(self).__name__)
        slug = (info.context or {}).get("slug", "")
        placed: dict[str, int] = {}
        for i, item in enumerate(self.layout):
            if item.col + item.size_x > GRID_COLUMNS:
                problems.add(
                    ("layout", i),
                    f"card {item.card!r} spans columns {item.col}-{item.col + item.size_x - 1}, "
                    f"past the {GRID_COLUMNS}-column grid",
                )
            key = card_key(item.card, slug)
            if key in placed:
                problems.add(("layout", i, "card"), f"{item.card!r} is already placed at layout.{placed[key]}")
            placed.setdefault(key, i)
        for i, a in enumerate(self.layout):
            for j in range(i + 1, len(self.layout)):
                b = self.layout[j]
                if a.overlaps(b):
                    problems.add(("layout", j), f"card {b.card!r} overlaps layout.{i} ({a.card!r})")
        problems.raise_any()
        return self


class LayoutItem(BaseModel):
    """A card placed on a dashboard's grid."""

    model_config = ConfigDict(frozen=True)

    card: Card
    row: int
    col: int
    size_x: int
    size_y: int


class Dashboard(BaseModel):
    """A dashboard: title, refresh interval and card layout, with its cards resolved."""

    model_config = ConfigDict(frozen=True)

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


# --- loading ---------------------------------------------------------------------------------------


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _validation_problems(exc: ValidationError, where: str) -> list[str]:
    """One line per pydantic error: `<file>: field <dotted location>: <what is wrong>`."""
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(p) for p in error["loc"]) or "(top level)"
        kind, message = error["type"], error["msg"]
        if kind == "missing":
            message = "required"
        elif kind == "extra_forbidden":
            message = f"unknown field (a typo?), value {_shown(error['input'])}"
        elif kind in ("model_type", "model_attributes_type", "dict_type"):
            message = f"should be a mapping of fields, not {_shown(error['input'])}"
        elif kind != "definition":
            message = f"{message}, not {_shown(error['input'])}"
        problems.append(f"{where}: field {location}: {message}")
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


def _load_card(folder: Path, stem: str, root: Path, problems: list[str]) -> Card | None:
    yml_path, sql_path = folder / f"{stem}.yml", folder / f"{stem}.sql"
    where = _rel(yml_path, root)
    if not yml_path.exists():
        problems.append(f"{_rel(sql_path, root)}: SQL file has no {yml_path.name} beside it")
        return None
    if not sql_path.exists():
        problems.append(f"{where}: missing SQL file {_rel(sql_path, root)}")
        return None
    doc = _read_yaml(yml_path, where, problems)
    if doc is _Unreadable:
        return None
    try:
        spec = CardSpec.model_validate(doc)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, where))
        return None
    sql = sql_path.read_text(encoding="utf-8").strip()
    if not sql:
        problems.append(f"{_rel(sql_path, root)}: SQL file is empty")
        return None
    # The YAML's fields are validated already (and the description stripped, so validating them
    # again would refuse a blank one, which provisioning reports in Metabase's terms): construct.
    fields = {name: getattr(spec, name) for name in spec.model_fields_set}
    return Card.model_construct(
        **fields,
        key=f"{folder.name}/{stem}",
        sql=sql.rstrip(";").rstrip(),
        sql_path=sql_path,
        yml_path=yml_path,
    )


def _load_cards(root: Path, problems: list[str]) -> dict[str, Card]:
    cards: dict[str, Card] = {}
    cards_dir = root / "cards"
    if not cards_dir.is_dir():
        problems.append(f"{_rel(cards_dir, root)}: folder is missing")
        return cards
    for folder in sorted(p for p in cards_dir.iterdir() if p.is_dir()):
        stems = {p.stem for p in folder.glob("*.yml")} | {p.stem for p in folder.glob("*.sql")}
        for stem in sorted(stems):
            card = _load_card(folder, stem, root, problems)
            if card is not None:
                cards[card.key] = card
    titles: dict[str, str] = {}
    for key, card in cards.items():
        if card.title in titles:
            problems.append(
                f"{_rel(card.yml_path, root)}: field title: {card.title!r} is also the title of "
                f"{titles[card.title]}; titles must be unique (Metabase cards are matched by name)"
            )
        titles.setdefault(card.title, key)
    return cards


def _placements(doc: Any) -> list[tuple[int, Placement]]:
    """The layout entries of a dashboard file that are valid on their own, with their indexes."""
    layout = doc.get("layout") if isinstance(doc, dict) else None
    placements = []
    for i, entry in enumerate(layout if isinstance(layout, list) else []):
        try:
            placements.append((i, Placement.model_validate(entry)))
        except ValidationError:
            continue  # reported with the file's other problems
    return placements


def _load_dashboard(path: Path, root: Path, cards: dict[str, Card], problems: list[str]) -> Dashboard | None:
    where = _rel(path, root)
    doc = _read_yaml(path, where, problems)
    if doc is _Unreadable:
        return None
    slug = path.stem
    spec: DashboardSpec | None = None
    try:
        spec = DashboardSpec.model_validate(doc, context={"slug": slug})
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, where))
    # Unknown cards are looked up even in a file with other problems, so all are reported at once.
    items: list[LayoutItem] = []
    unknown = False
    placements = list(enumerate(spec.layout)) if spec is not None else _placements(doc)
    for i, placement in placements:
        key = card_key(placement.card, slug)
        card = cards.get(key)
        if card is None:
            expected = root / "cards" / key
            problems.append(
                f"{where}: field layout.{i}.card: unknown card {placement.card!r}: it is used but not defined "
                f"(expected {_rel(expected.with_suffix('.yml'), root)} and .sql)"
            )
            unknown = True
            continue
        items.append(LayoutItem(card=card, **placement.model_dump(exclude={"card"})))
    if spec is None or unknown:
        return None
    items.sort(key=lambda it: (it.row, it.col))
    return Dashboard(
        slug=slug,
        title=spec.title,
        description=spec.description,
        position=spec.position,
        auto_refresh_seconds=spec.auto_refresh_seconds,
        layout=tuple(items),
        path=path,
    )


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
    dashboards: list[Dashboard] = []
    for path in paths:
        dashboard = _load_dashboard(path, root, cards, problems)
        if dashboard is not None:
            dashboards.append(dashboard)
    for attribute, rule in (("title", "dashboard titles must be unique"), ("position", None)):
        seen: dict[Any, str] = {}
        for dashboard in dashboards:
            value, where = getattr(dashboard, attribute), _rel(dashboard.path, root)
            if value in seen:
                also = f"is also the {attribute} of {seen[value]}"
                problems.append(f"{where}: field {attribute}: {value!r} {also}" + (f"; {rule}" if rule else ""))
            seen.setdefault(value, where)
    dashboards.sort(key=lambda d: d.position)
    if not problems:
        used = {card.key for dashboard in dashboards for card in dashboard.cards}
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
