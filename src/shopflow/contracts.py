"""The raw data contract: every entity the platform extracts, its columns, key and allowed values.

One definition feeds the lake writer (CSV column order), the warehouse loader (DDL and COPY column
list), the quality suites (schema and allowed-value expectations) and the docs. Each raw row carries
`dt`, the logical date of the partition it was extracted in, so every extracted version is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

ORDER_STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
PAYMENT_METHODS = ("credit_card", "debit_card", "paypal", "apple_pay", "bank_transfer")
LOYALTY_SEGMENTS = ("bronze", "silver", "gold", "platinum")
EVENT_TYPES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")
DEVICE_TYPES = ("desktop", "mobile", "tablet")
REFERRERS = ("direct", "google", "facebook", "instagram", "email", "affiliate")
PRODUCT_CATEGORIES = ("electronics", "jewelery", "men's clothing", "women's clothing")


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    nullable: bool = False


@dataclass(frozen=True)
class Entity:
    source: str
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    description: str

    @property
    def qualified_name(self) -> str:
        """`source.entity`, as used in CLI arguments, the ledger and quality suites."""
        return f"{self.source}.{self.name}"

    @property
    def table(self) -> str:
        """The warehouse table in the `raw` schema."""
        return f"{self.source}_{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def data_column_names(self) -> list[str]:
        """Columns that come from the source, without the partition column `dt`."""
        return [c.name for c in self.columns if c.name != "dt"]


def _cols(*spec: tuple) -> tuple[Column, ...]:
    return (*tuple(Column(*s) for s in spec), Column("dt", "date"))


PRODUCTS = Entity(
    source="fakestore",
    name="products",
    description="Daily full snapshot of the FakeStore catalog API, rating flattened.",
    key=("product_id", "dt"),
    columns=_cols(
        ("product_id", "integer"),
        ("title", "text"),
        ("price", "numeric(10,2)"),
        ("description", "text"),
        ("category", "text"),
        ("image", "text"),
        ("rating_rate", "numeric(3,1)"),
        ("rating_count", "integer"),
    ),
)

CUSTOMERS = Entity(
    source="shop",
    name="customers",
    description="Customers whose row changed (updated_at) in the partition's day: one version per day.",
    key=("customer_id", "dt"),
    columns=_cols(
        ("customer_id", "bigint"),
        ("first_name", "text"),
        ("last_name", "text"),
        ("email", "text"),
        ("phone", "text", True),
        ("city", "text"),
        ("country", "text"),
        ("registered_at", "timestamptz"),
        ("loyalty_segment", "text"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
    ),
)

ORDERS = Entity(
    source="shop",
    name="orders",
    description="Orders whose row changed in the partition's day (new orders and status changes).",
    key=("order_id", "dt"),
    columns=_cols(
        ("order_id", "bigint"),
        ("customer_id", "bigint"),
        ("ordered_at", "timestamptz"),
        ("status", "text"),
        ("payment_method", "text"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
    ),
)

ORDER_ITEMS = Entity(
    source="shop",
    name="order_items",
    description="Order lines whose row changed in the partition's day.",
    key=("order_item_id", "dt"),
    columns=_cols(
        ("order_item_id", "bigint"),
        ("order_id", "bigint"),
        ("product_id", "integer"),
        ("quantity", "integer"),
        ("unit_price", "numeric(10,2)"),
        ("created_at", "timestamptz"),
        ("updated_at", "timestamptz"),
    ),
)

EVENTS = Entity(
    source="clickstream",
    name="events",
    description="Web events delivered hourly as gzipped JSON lines, promoted per day.",
    key=("event_id",),
    columns=_cols(
        ("event_id", "text"),
        ("session_id", "text"),
        ("visitor_id", "text"),
        ("customer_id", "bigint", True),
        ("event_type", "text"),
        ("product_id", "integer", True),
        ("order_id", "bigint", True),
        ("device_type", "text"),
        ("referrer", "text"),
        ("event_time", "timestamptz"),
    ),
)

ENTITIES: dict[str, Entity] = {e.qualified_name: e for e in (PRODUCTS, CUSTOMERS, ORDERS, ORDER_ITEMS, EVENTS)}

# Load order matters for referential checks: products and orders are known before their lines.
LOAD_ORDER = ("fakestore.products", "shop.customers", "shop.orders", "shop.order_items", "clickstream.events")


def get_entity(qualified_name: str) -> Entity:
    """Look up an entity by `source.entity`; the error lists the valid names."""
    try:
        return ENTITIES[qualified_name]
    except KeyError:
        raise KeyError(f"unknown entity {qualified_name!r}; expected one of {', '.join(ENTITIES)}") from None
