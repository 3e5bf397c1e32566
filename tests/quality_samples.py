"""Contract-valid sample partitions: the clean batches the quality tests break.

Rows are deterministic in (entity, dt, rows, seed) and written exactly as the extract writes them
(CSV with a header, '' for NULL, ISO 8601 UTC timestamps), so they go through `read_partition_frame`
like a real partition.
"""

from __future__ import annotations

import csv
import gzip
import io
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from shopflow.contracts import (
    CUSTOMERS,
    DEVICE_TYPES,
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

SAMPLE_PRODUCT_IDS = frozenset(range(1, 21))
_FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken")
_LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_CITIES = (("London", "United Kingdom"), ("Berlin", "Germany"), ("Toronto", "Canada"), ("Austin", "United States"))


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _day_start(dt: date) -> datetime:
    return datetime.combine(dt, time(0), tzinfo=UTC)


def _products(dt: date, rows: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "product_id": i,
            "title": f"Sample product {i}",
            "price": f"{rng.uniform(5, 999):.2f}",
            "description": f"Description of sample product {i}.",
            "category": PRODUCT_CATEGORIES[i % len(PRODUCT_CATEGORIES)],
            "image": f"https://fakestoreapi.com/img/{i}.jpg",
            "rating_rate": f"{rng.uniform(1, 5):.1f}",
            "rating_count": rng.randint(0, 700),
        }
        for i in range(1, rows + 1)
    ]


def _customers(dt: date, rows: int, rng: random.Random) -> list[dict[str, Any]]:
    start = _day_start(dt)
    out = []
    for i in range(1, rows + 1):
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        city, country = rng.choice(_CITIES)
        registered = start - timedelta(days=rng.randint(0, 400), seconds=rng.randint(0, 86_399))
        out.append(
            {
                "customer_id": i,
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}.{i}@example.com".lower(),
                "phone": None if i % 7 == 0 else f"+1 555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "city": city,
                "country": country,
                "registered_at": _ts(registered),
                "loyalty_segment": rng.choice(LOYALTY_SEGMENTS),
                "created_at": _ts(registered),
                "updated_at": _ts(start + timedelta(seconds=rng.randint(0, 86_399))),
            }
        )
    return out


def _orders(dt: date, rows: int, rng: random.Random) -> list[dict[str, Any]]:
    start = _day_start(dt)
    out = []
    for i in range(1, rows + 1):
        ordered = start + timedelta(seconds=rng.randint(0, 80_000))
        out.append(
            {
                "order_id": i,
                "customer_id": rng.randint(1, 500),
                "ordered_at": _ts(ordered),
                "status": rng.choice(ORDER_STATUSES),
                "payment_method": rng.choice(PAYMENT_METHODS),
                "created_at": _ts(ordered),
                "updated_at": _ts(ordered + timedelta(seconds=rng.randint(0, 6_000))),
            }
        )
    return out


def _order_items(dt: date, rows: int, rng: random.Random) -> list[dict[str, Any]]:
    start = _day_start(dt)
    out = []
    for i in range(1, rows + 1):
        created = start + timedelta(seconds=rng.randint(0, 86_399))
        out.append(
            {
                "order_item_id": i,
                "order_id": (i + 2) // 3,
                "product_id": rng.choice(sorted(SAMPLE_PRODUCT_IDS)),
                "quantity": rng.randint(1, 5),
                "unit_price": f"{rng.uniform(5, 999):.2f}",
                "created_at": _ts(created),
                "updated_at": _ts(created),
            }
        )
    return out


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _events(dt: date, rows: int, rng: random.Random) -> list[dict[str, Any]]:
    start = _day_start(dt)
    out = []
    orders = 0
    for i in range(rows):
        event_type = EVENTS_CYCLE[i % len(EVENTS_CYCLE)]
        # Spread over the day in order, so every hour has events once there are 24 or more.
        when = start + timedelta(milliseconds=int((i + rng.random()) * 86_400_000 / max(rows, 1)))
        logged_in = event_type in ("checkout", "purchase") or rng.random() < 0.3
        if event_type == "purchase":
            orders += 1
        out.append(
            {
                "event_id": _uuid(rng),
                "session_id": _uuid(rng),
                "visitor_id": _uuid(rng),
                "customer_id": rng.randint(1, 500) if logged_in else None,
                "event_type": event_type,
                "product_id": rng.choice(sorted(SAMPLE_PRODUCT_IDS))
                if event_type in ("product_view", "add_to_cart", "purchase")
                else None,
                "order_id": orders if event_type == "purchase" else None,
                "device_type": rng.choice(DEVICE_TYPES),
                "referrer": rng.choice(REFERRERS),
                "event_time": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            }
        )
    return out


# A funnel-shaped mix: many page and product views, fewer carts, checkouts and purchases.
EVENTS_CYCLE = (
    "page_view", "product_view", "page_view", "product_view", "add_to_cart",
    "page_view", "product_view", "checkout", "page_view", "purchase",
)  # fmt: skip

_GENERATORS = {
    PRODUCTS.qualified_name: _products,
    CUSTOMERS.qualified_name: _customers,
    ORDERS.qualified_name: _orders,
    ORDER_ITEMS.qualified_name: _order_items,
    EVENTS.qualified_name: _events,
}


def sample_rows(entity: Entity, dt: date, rows: int, seed: int = 0) -> list[dict[str, Any]]:
    """`rows` contract-valid rows of `entity` for partition `dt` (dicts in contract column order)."""
    rng = random.Random(f"{entity.qualified_name}/{dt.isoformat()}/{seed}")
    data = _GENERATORS[entity.qualified_name](dt, rows, rng)
    return [{**row, "dt": dt.isoformat()} for row in data]


def partition_csv(
    entity: Entity, rows: Iterable[Mapping[str, Any]], *, columns: list[str] | None = None, compress: bool = True
) -> bytes:
    """CSV bytes of `rows` as the extract writes them (header, '' = NULL), gzipped unless `compress=False`."""
    header = columns if columns is not None else entity.column_names
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in header])
    data = buffer.getvalue().encode()
    return gzip.compress(data, mtime=0) if compress else data
