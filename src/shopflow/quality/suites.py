"""Expectation suites for raw partitions, as code: one builder per entity of `shopflow.contracts`.

Every expectation carries `meta.family` (schema, completeness, uniqueness, range, allowed_values,
volume, referential, distribution, consistency) and `meta.column`, the contract column it is about,
so failures can be reported by family and column. GX is imported inside the builders: importing this
module stays cheap (`import great_expectations` costs seconds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from shopflow.contracts import (
    CUSTOMERS,
    DEVICE_TYPES,
    EVENT_TYPES,
    EVENTS,
    LOYALTY_SEGMENTS,
    ORDER_ITEMS,
    ORDER_STATUSES,
    ORDERS,
    PAYMENT_METHODS,
    PRODUCT_CATEGORIES,
    PRODUCTS,
    REFERRERS,
    Entity,
)
from shopflow.quality.frames import (
    EVENT_HOUR_COLUMN,
    expected_frame_columns,
    frame_dtype,
    typed_columns,
    unparsed_column,
)

if TYPE_CHECKING:
    import great_expectations as gx

DEFAULT_LATENESS = timedelta(minutes=15)

# Families, in the order a summary lists them.
SCHEMA = "schema"
COMPLETENESS = "completeness"
UNIQUENESS = "uniqueness"
RANGE = "range"
ALLOWED_VALUES = "allowed_values"
VOLUME = "volume"
REFERENTIAL = "referential"
DISTRIBUTION = "distribution"
CONSISTENCY = "consistency"
FAMILIES = (SCHEMA, COMPLETENESS, UNIQUENESS, RANGE, ALLOWED_VALUES, VOLUME, REFERENTIAL, DISTRIBUTION, CONSISTENCY)

# A day needs this many events before "every UTC hour has events" means something: with the
# quietest hour holding 1.6% of traffic (shopflow.sources.patterns), 480 events leave that hour
# empty by chance with probability (1 - 0.016)^480 ~ 0.05%, while a lost hourly delivery object
# empties its hour for certain.
HOUR_COVERAGE_MIN_EVENTS = 24 * 20
# The share of anonymous events (customer_id null) must lie in this range on days with at least
# ANONYMOUS_SHARE_MIN_EVENTS events; on smaller days a handful of sessions swings the share too far.
ANONYMOUS_SHARE_BOUNDS = (0.10, 0.80)
ANONYMOUS_SHARE_MIN_EVENTS = 200
QUANTITY_BOUNDS = (1, 100)
RATING_BOUNDS = (0.0, 5.0)

EMAIL_REGEX = r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$"
# International numbers as the shop stores them: optional +, digits with spaces, dots, dashes,
# parentheses, and an optional extension ("x123").
PHONE_REGEX = r"^\+?[0-9(][0-9 ()./-]{5,22}[0-9](?: ?x ?[0-9]{1,6})?$"
UUID_REGEX = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
URL_REGEX = r"^https?://[^\s/$.?#][^\s]*$"
NON_BLANK_REGEX = r"\S"


@dataclass(frozen=True)
class PartitionContext:
    """What the gate knows about a partition besides its rows: the manifest and the warehouse state."""

    entity: Entity
    dt: date
    manifest_row_count: int
    # Products in the warehouse plus this day's snapshot; orders in the warehouse plus this day's partition.
    # A set, or KnownInWarehouse: the ids stay in the warehouse and the gate joins against them.
    known_product_ids: frozenset[int] | KnownInWarehouse | None = None
    known_order_ids: frozenset[int] | KnownInWarehouse | None = None
    lateness: timedelta = DEFAULT_LATENESS
    # The first extraction of a shop table holds all history up to the interval end.
    full_history: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.dt, date) or isinstance(self.dt, datetime):
            raise TypeError(f"PartitionContext.dt must be a date, got {self.dt!r}")
        if self.manifest_row_count < 0:
            raise ValueError(f"manifest_row_count must be >= 0, got {self.manifest_row_count}")
        if self.lateness < timedelta(0):
            raise ValueError(f"lateness must not be negative, got {self.lateness}")

    @property
    def interval_start(self) -> datetime:
        """Start of the partition's UTC day."""
        return datetime.combine(self.dt, time(0), tzinfo=UTC)

    @property
    def interval_end(self) -> datetime:
        """End (exclusive) of the partition's UTC day."""
        return self.interval_start + timedelta(days=1)

    @property
    def partition(self) -> str:
        """The partition's lake prefix, as used in messages."""
        return f"raw/{self.entity.source}/{self.entity.name}/dt={self.dt.isoformat()}"


def suite_name(entity: Entity) -> str:
    """Name of an entity's suite (`raw.<source>.<entity>`)."""
    return f"raw.{entity.qualified_name}"


@dataclass
class SuiteSpec:
    """Expectations collected for one suite before GX objects are built."""

    name: str
    items: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def add(
        self,
        expectation: str,
        family: str,
        about: str | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Queue one expectation (GX class name + kwargs) tagged with its family and the column it is `about`."""
        if family not in FAMILIES:
            raise ValueError(f"unknown expectation family {family!r}")
        meta = {"family": family}
        if about is not None:
            meta["column"] = about
        kwargs["meta"] = meta
        if description is not None:
            kwargs["description"] = description
        self.items.append((expectation, kwargs))

    def build(self) -> gx.ExpectationSuite:
        """The GX suite (ids known to the warehouse must have been resolved to sets first)."""
        import great_expectations as gx
        import great_expectations.expectations as gxe

        expectations = []
        for cls, kwargs in self.items:
            gx_kwargs = dict(kwargs)
            if isinstance(gx_kwargs.get("row_condition"), RowCondition):
                gx_kwargs["row_condition"] = gx_kwargs["row_condition"].to_gx()
            if isinstance(gx_kwargs.get("value_set"), KnownInWarehouse):
                raise TypeError(
                    f"{self.name}: {cls} on {gx_kwargs.get('column')} still refers to the warehouse's ids; "
                    "resolve them to a set before building the GX suite"
                )
            expectations.append(getattr(gxe, cls)(**gx_kwargs))
        return gx.ExpectationSuite(name=self.name, expectations=expectations)


def expectation_type(class_name: str) -> str:
    """GX's snake_case expectation type of an expectation class (ExpectColumnValuesToBeNull -> expect_column_...)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", class_name).lower()


@dataclass(frozen=True)
class KnownInWarehouse:
    """The ids a referential check accepts, left in the warehouse: `raw.<table>.<column>` up to `through`.

    The set-based gate answers the check with a join; the GX suite needs the ids as a set, which the
    gate resolves (narrowed to the batch's ids) only when it has to build one.
    """

    table: str
    column: str
    through: date


@dataclass(frozen=True)
class RowCondition:
    """A row filter on one column, kept neutral so the set-based checks can read it without GX."""

    column: str
    operator: str  # "IN", "NOT_IN" or "IS_NULL"
    values: tuple[Any, ...] = ()

    def to_gx(self) -> Any:
        """GX's row-condition object."""
        from great_expectations.expectations.row_conditions import Column as ConditionColumn

        column = ConditionColumn(self.column)
        if self.operator == "IN":
            return column.is_in(list(self.values))
        if self.operator == "NOT_IN":
            return column.is_not_in(list(self.values))
        return column.is_null()

    def to_json(self) -> dict[str, Any]:
        """The JSON GX writes for this condition in a result's expectation_config."""
        if self.operator == "IS_NULL":
            return {"column": {"name": self.column}, "is_null": True, "type": "nullity"}
        return {
            "column": {"name": self.column},
            "operator": self.operator,
            "parameter": list(self.values),
            "type": "comparison",
        }


def _row_condition_is_in(column: str, values: tuple[str, ...] | list[str]) -> RowCondition:
    return RowCondition(column, "IN", tuple(values))


def _row_condition_is_null(column: str) -> RowCondition:
    return RowCondition(column, "IS_NULL")


def _row_condition_not_in(column: str, values: tuple[str, ...] | list[str]) -> RowCondition:
    return RowCondition(column, "NOT_IN", tuple(values))


# --- shared families ----------------------------------------------------------------------------
def _contract_expectations(spec: SuiteSpec, ctx: PartitionContext) -> None:
    """Schema, completeness, key uniqueness, volume and partition-date expectations from the contract."""
    entity = ctx.entity
    spec.add("ExpectTableColumnsToMatchOrderedList", SCHEMA, column_list=expected_frame_columns(entity))
    for column in entity.columns:
        spec.add("ExpectColumnTypeToBe", SCHEMA, column.name, column=column.name, type_=frame_dtype(column))
    for column in typed_columns(entity):
        spec.add(
            "ExpectColumnValuesToBeNull",
            SCHEMA,
            column.name,
            description=f"every non-empty value of `{column.name}` parses as {column.pg_type}",
            column=unparsed_column(column.name),
        )
    coerced = {c.name for c in typed_columns(entity)}
    for column in entity.columns:
        if column.nullable:
            continue
        if column.name in coerced:
            # Only values that were empty in the file: an unparseable one is a schema failure already.
            spec.add(
                "ExpectColumnValuesToNotBeNull",
                COMPLETENESS,
                column.name,
                column=column.name,
                row_condition=_row_condition_is_null(unparsed_column(column.name)),
            )
        else:
            spec.add("ExpectColumnValuesToNotBeNull", COMPLETENESS, column.name, column=column.name)
    key = [c for c in entity.key if c != "dt"]
    if len(key) == 1:
        spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, key[0], column=key[0])
    else:
        spec.add("ExpectCompoundColumnsToBeUnique", UNIQUENESS, ",".join(key), column_list=key)
    spec.add("ExpectTableRowCountToEqual", VOLUME, value=ctx.manifest_row_count)
    spec.add("ExpectColumnValuesToBeInSet", CONSISTENCY, "dt", column="dt", value_set=[ctx.dt])


def _positive_ids(spec: SuiteSpec, *columns: str) -> None:
    for column in columns:
        spec.add("ExpectColumnValuesToBeBetween", RANGE, column, column=column, min_value=1)


def _non_blank(spec: SuiteSpec, *columns: str) -> None:
    for column in columns:
        spec.add("ExpectColumnValuesToMatchRegex", COMPLETENESS, column, column=column, regex=NON_BLANK_REGEX)


def _change_window(spec: SuiteSpec, ctx: PartitionContext, *, order_aggregate: bool = False) -> None:
    """Shop tables: the partition holds rows whose updated_at falls in the interval (give or take lateness).

    Orders and their lines travel together (an order and all its lines are extracted on any day
    the order or one of its lines changed), so their rows may have changed before the interval;
    none may have changed after it.
    """
    upper = ctx.interval_end + ctx.lateness
    if ctx.full_history or order_aggregate:
        spec.add(
            "ExpectColumnValuesToBeBetween", RANGE, "updated_at", column="updated_at", max_value=upper, strict_max=True
        )
    else:
        spec.add(
            "ExpectColumnValuesToBeBetween",
            RANGE,
            "updated_at",
            column="updated_at",
            min_value=ctx.interval_start - ctx.lateness,
            max_value=upper,
            strict_max=True,
        )
    spec.add(
        "ExpectColumnValuesToBeBetween", RANGE, "created_at", column="created_at", max_value=upper, strict_max=True
    )
    spec.add(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        CONSISTENCY,
        "updated_at",
        column_A="updated_at",
        column_B="created_at",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _known_ids(spec: SuiteSpec, column: str, known: frozenset[int] | KnownInWarehouse | None, what: str) -> None:
    # Without the warehouse's view (None) the check is left out rather than run against nothing.
    if known is not None:
        spec.add(
            "ExpectColumnValuesToBeInSet",
            REFERENTIAL,
            column,
            description=f"every {column} is a known {what} (in the warehouse or this day's data)",
            column=column,
            value_set=known if isinstance(known, KnownInWarehouse) else sorted(known),
        )


# --- one builder per entity ---------------------------------------------------------------------
def _products(spec: SuiteSpec, ctx: PartitionContext) -> None:
    # A catalog snapshot is never empty: an empty API answer must not replace the catalog.
    spec.add("ExpectTableRowCountToBeBetween", VOLUME, min_value=1)
    _positive_ids(spec, "product_id")
    _non_blank(spec, "title", "description")
    spec.add("ExpectColumnValuesToBeBetween", RANGE, "price", column="price", min_value=0, strict_min=True)
    spec.add(
        "ExpectColumnValuesToBeBetween",
        RANGE,
        "rating_rate",
        column="rating_rate",
        min_value=RATING_BOUNDS[0],
        max_value=RATING_BOUNDS[1],
    )
    spec.add("ExpectColumnValuesToBeBetween", RANGE, "rating_count", column="rating_count", min_value=0)
    spec.add(
        "ExpectColumnValuesToBeInSet",
        ALLOWED_VALUES,
        "category",
        column="category",
        value_set=list(PRODUCT_CATEGORIES),
    )
    spec.add("ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, "image", column="image", regex=URL_REGEX)


def _customers(spec: SuiteSpec, ctx: PartitionContext) -> None:
    _positive_ids(spec, "customer_id")
    _non_blank(spec, "first_name", "last_name", "city", "country")
    spec.add("ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, "email", column="email", regex=EMAIL_REGEX)
    # The shop enforces unique emails; two customers with one email in a batch is a broken extract.
    spec.add("ExpectColumnValuesToBeUnique", UNIQUENESS, "email", column="email")
    spec.add("ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, "phone", column="phone", regex=PHONE_REGEX)
    spec.add(
        "ExpectColumnValuesToBeInSet",
        ALLOWED_VALUES,
        "loyalty_segment",
        column="loyalty_segment",
        value_set=list(LOYALTY_SEGMENTS),
    )
    _change_window(spec, ctx)
    spec.add(
        "ExpectColumnValuesToBeBetween",
        RANGE,
        "registered_at",
        column="registered_at",
        max_value=ctx.interval_end + ctx.lateness,
        strict_max=True,
    )
    spec.add(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        CONSISTENCY,
        "registered_at",
        column_A="updated_at",
        column_B="registered_at",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _orders(spec: SuiteSpec, ctx: PartitionContext) -> None:
    _positive_ids(spec, "order_id", "customer_id")
    spec.add("ExpectColumnValuesToBeInSet", ALLOWED_VALUES, "status", column="status", value_set=list(ORDER_STATUSES))
    spec.add(
        "ExpectColumnValuesToBeInSet",
        ALLOWED_VALUES,
        "payment_method",
        column="payment_method",
        value_set=list(PAYMENT_METHODS),
    )
    _change_window(spec, ctx, order_aggregate=True)
    spec.add(
        "ExpectColumnValuesToBeBetween",
        RANGE,
        "ordered_at",
        column="ordered_at",
        max_value=ctx.interval_end + ctx.lateness,
        strict_max=True,
    )
    spec.add(
        "ExpectColumnPairValuesAToBeGreaterThanB",
        CONSISTENCY,
        "ordered_at",
        column_A="updated_at",
        column_B="ordered_at",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _order_items(spec: SuiteSpec, ctx: PartitionContext) -> None:
    _positive_ids(spec, "order_item_id", "order_id")
    spec.add(
        "ExpectColumnValuesToBeBetween",
        RANGE,
        "quantity",
        column="quantity",
        min_value=QUANTITY_BOUNDS[0],
        max_value=QUANTITY_BOUNDS[1],
    )
    spec.add("ExpectColumnValuesToBeBetween", RANGE, "unit_price", column="unit_price", min_value=0, strict_min=True)
    _change_window(spec, ctx, order_aggregate=True)
    _known_ids(spec, "order_id", ctx.known_order_ids, "order")
    _known_ids(spec, "product_id", ctx.known_product_ids, "product")


def _events(spec: SuiteSpec, ctx: PartitionContext) -> None:
    for column in ("event_id", "session_id", "visitor_id"):
        spec.add("ExpectColumnValuesToMatchRegex", ALLOWED_VALUES, column, column=column, regex=UUID_REGEX)
    _positive_ids(spec, "customer_id", "order_id")
    spec.add(
        "ExpectColumnValuesToBeInSet", ALLOWED_VALUES, "event_type", column="event_type", value_set=list(EVENT_TYPES)
    )
    spec.add(
        "ExpectColumnValuesToBeInSet", ALLOWED_VALUES, "device_type", column="device_type", value_set=list(DEVICE_TYPES)
    )
    spec.add("ExpectColumnValuesToBeInSet", ALLOWED_VALUES, "referrer", column="referrer", value_set=list(REFERRERS))
    spec.add(
        "ExpectColumnValuesToBeBetween",
        RANGE,
        "event_time",
        column="event_time",
        min_value=ctx.interval_start - ctx.lateness,
        max_value=ctx.interval_end + ctx.lateness,
        strict_max=True,
    )
    # The funnel's shape: which events carry a product, an order and a logged-in customer.
    product_events = ("product_view", "add_to_cart", "purchase")
    spec.add(
        "ExpectColumnValuesToNotBeNull",
        CONSISTENCY,
        "product_id",
        description="product_view, add_to_cart and purchase events name a product",
        column="product_id",
        row_condition=_row_condition_is_in("event_type", product_events),
    )
    spec.add(
        "ExpectColumnValuesToBeNull",
        CONSISTENCY,
        "product_id",
        description="page_view and checkout events name no product",
        column="product_id",
        row_condition=_row_condition_not_in("event_type", product_events),
    )
    spec.add(
        "ExpectColumnValuesToNotBeNull",
        CONSISTENCY,
        "order_id",
        description="purchase events name their order",
        column="order_id",
        row_condition=_row_condition_is_in("event_type", ["purchase"]),
    )
    spec.add(
        "ExpectColumnValuesToBeNull",
        CONSISTENCY,
        "order_id",
        description="only purchase events name an order",
        column="order_id",
        row_condition=_row_condition_not_in("event_type", ["purchase"]),
    )
    spec.add(
        "ExpectColumnValuesToNotBeNull",
        CONSISTENCY,
        "customer_id",
        description="purchase events are by a logged-in customer (an order has a customer)",
        column="customer_id",
        row_condition=_row_condition_is_in("event_type", ["purchase"]),
    )
    _known_ids(spec, "product_id", ctx.known_product_ids, "product")
    _known_ids(spec, "order_id", ctx.known_order_ids, "order")
    if ctx.manifest_row_count >= HOUR_COVERAGE_MIN_EVENTS:
        spec.add(
            "ExpectColumnDistinctValuesToContainSet",
            DISTRIBUTION,
            "event_time",
            description=(
                f"a day with >= {HOUR_COVERAGE_MIN_EVENTS} events has events in all 24 UTC hours "
                "(a missing hour means a lost hourly delivery)"
            ),
            column=EVENT_HOUR_COLUMN,
            value_set=list(range(24)),
        )
    if ctx.manifest_row_count >= ANONYMOUS_SHARE_MIN_EVENTS:
        low, high = ANONYMOUS_SHARE_BOUNDS
        spec.add(
            "ExpectColumnProportionOfNonNullValuesToBeBetween",
            DISTRIBUTION,
            "customer_id",
            description=(
                f"anonymous events (customer_id null) are between {low:.0%} and {high:.0%} "
                f"of a day with >= {ANONYMOUS_SHARE_MIN_EVENTS} events"
            ),
            column="customer_id",
            min_value=round(1 - high, 6),
            max_value=round(1 - low, 6),
        )


_BUILDERS: dict[str, Callable[[SuiteSpec, PartitionContext], None]] = {
    PRODUCTS.qualified_name: _products,
    CUSTOMERS.qualified_name: _customers,
    ORDERS.qualified_name: _orders,
    ORDER_ITEMS.qualified_name: _order_items,
    EVENTS.qualified_name: _events,
}


def build_suite_spec(ctx: PartitionContext) -> SuiteSpec:
    """The expectations for a partition, before GX objects are built (cheap; no GX import)."""
    try:
        builder = _BUILDERS[ctx.entity.qualified_name]
    except KeyError:
        raise KeyError(
            f"no quality suite for entity {ctx.entity.qualified_name!r}; known: {', '.join(_BUILDERS)}"
        ) from None
    spec = SuiteSpec(name=suite_name(ctx.entity))
    _contract_expectations(spec, ctx)
    builder(spec, ctx)
    return spec


def build_suite(ctx: PartitionContext) -> gx.ExpectationSuite:
    """The GX expectation suite for one raw partition of `ctx.entity`."""
    return build_suite_spec(ctx).build()
