"""A deterministic day-by-day simulator of the shop: customers, orders, order lines and the clickstream.

Each simulated day writes that day's activity into the transactional `shop` database (new rows by
COPY, changes as set-based UPDATEs that set `updated_at` inside the day) and delivers the day's
clickstream to the lake's landing zone. Everything random comes from RNGs keyed by (seed, day), or
from hashes of (seed, id) for facts fixed at creation, so the same seed always writes the same data
whether a year is simulated in one call or one day per call.

Model (volumes at scale 1, averaged over a year; `scale` multiplies them):
- The first simulated day opens the shop with a launch cohort of 150 customers; afterwards about
  2.25 customers register per day (about 1,000 customers after a year).
- About 13.7 orders a day (about 5,000 a year), shaped by weekday, month (Nov/Dec peak, Black
  Friday, Cyber Monday) and an hour-of-day curve. Half of the new customers buy on the day they
  register; the other orders come from earlier customers, picked by a fixed per-customer appetite
  (a heavy-tailed weight) so a few customers buy a lot.
- 1-4 lines per order (mean 2), quantities mostly 1, unit price = catalog price at order time,
  product popularity proportional to price**-0.48 so cheaper products sell more.
- Lifecycle: placed -> paid (1-3 days) -> shipped (1-3 days later) -> delivered (2-6 days later);
  5% are cancelled before shipping and 4% of the others are returned 1-14 days after delivery.
- Loyalty segment from trailing 365-day spend on orders neither cancelled nor returned, recomputed
  nightly: bronze < $250 <= silver < $1,000 <= gold < $2,500 <= platinum.
- Each month about 1.2% of customers move city (a tenth of them abroad) and 1% change email.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

import numpy as np
import psycopg2
from psycopg2.extensions import connection

from shopflow.contracts import CUSTOMERS, LOYALTY_SEGMENTS, ORDER_ITEMS, ORDER_STATUSES, ORDERS, PAYMENT_METHODS
from shopflow.sources import SimulationError, clickstream, people
from shopflow.sources.patterns import day_factor, day_rng, keyed_uniform, seconds_in_day

LAUNCH_CUSTOMERS = 150
NEW_CUSTOMERS_PER_DAY = 2.25
ORDERS_PER_DAY = 13.7
FIRST_ORDER_SHARE = 0.5
BASKET_SIZE_SHARE = np.array([0.40, 0.30, 0.18, 0.12])  # 1, 2, 3, 4 lines
QUANTITY_SHARE = np.array([0.86, 0.10, 0.04])  # 1, 2, 3 units
PAYMENT_SHARE = np.array([0.45, 0.20, 0.20, 0.10, 0.05])  # in PAYMENT_METHODS order
PRICE_ELASTICITY = 0.48
PHONE_MISSING_SHARE = 0.08
MONTHLY_MOVE_SHARE = 0.012
MOVE_ABROAD_SHARE = 0.10
MONTHLY_EMAIL_CHANGE_SHARE = 0.01
CANCEL_SHARE = 0.05
RETURN_SHARE = 0.04
RETURN_WINDOW_DAYS = 14
# Trailing 365-day spend (USD) from which a customer is silver, gold, platinum.
SEGMENT_THRESHOLDS_USD = (250.0, 1000.0, 2500.0)
SPEND_WINDOW_DAYS = 365
# Orders start at 00:01 or later, so their web session can start on the same day.
MIN_ORDER_SECOND = 60
# The nightly loyalty job runs between 23:30 and midnight.
SEGMENT_JOB_SECOND = 23 * 3600 + 1800

PLACED, PAID, SHIPPED, DELIVERED, CANCELLED, RETURNED = (
    ORDER_STATUSES.index(s) for s in ("placed", "paid", "shipped", "delivered", "cancelled", "returned")
)
# The one allowed predecessor set of each status (a day moves an order at most one step).
_ALLOWED_FROM = {
    PAID: (PLACED,),
    SHIPPED: (PAID,),
    DELIVERED: (SHIPPED,),
    CANCELLED: (PLACED, PAID),
    RETURNED: (DELIVERED,),
}
_NEVER = 1 << 40
# Orders this old can no longer change status: delivered by day 12, returned by day 26.
_LIFECYCLE_DAYS = 27
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

_STREAM_SHOP = 1
_STREAM_APPETITE = 2
_LIFECYCLE_STREAMS = range(20, 33)

_CUSTOMER_COLUMNS = CUSTOMERS.data_column_names
_ORDER_COLUMNS = ORDERS.data_column_names
_ORDER_ITEM_COLUMNS = ORDER_ITEMS.data_column_names


@dataclass(frozen=True)
class DaySummary:
    """What one simulated day wrote (all zero with skipped=True for a day simulated earlier)."""

    day: date
    new_customers: int
    orders: int
    order_items: int
    revenue: float
    status_changes: int
    segment_changes: int
    events: int
    skipped: bool = False


def shop_schema_sql() -> str:
    """The DDL of the `shop` database (idempotent)."""
    return resources.files("shopflow.sources").joinpath("shop_schema.sql").read_text(encoding="utf-8")


def create_shop_schema(conn: connection) -> None:
    """Create the shop tables, indexes and simulation state table when missing, and commit."""
    with conn.cursor() as cur:
        cur.execute(shop_schema_sql())
    conn.commit()


# --- catalog ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Catalog:
    product_ids: np.ndarray
    price_cents: np.ndarray
    titles: tuple[str, ...]
    categories: tuple[str, ...]
    log_weights: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]]) -> _Catalog:
        if not rows:
            raise ValueError("catalog is empty: the simulator needs at least one product")
        parsed = []
        for index, row in enumerate(rows):
            pid = row.get("product_id", row.get("id"))
            price = row.get("price")
            if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
                raise ValueError(f"catalog row {index}: product_id/id {pid!r} is not a positive integer")
            if not isinstance(price, (int, float)) or isinstance(price, bool) or not price > 0:
                raise ValueError(f"catalog row {index} (product {pid}): price {price!r} is not a positive number")
            for field in ("title", "category"):
                if not isinstance(row.get(field), str):
                    raise ValueError(f"catalog row {index} (product {pid}): {field} is missing or not text")
            parsed.append((pid, round(float(price) * 100), row["title"], row["category"]))
        parsed.sort()
        ids = [p[0] for p in parsed]
        if len(set(ids)) != len(ids):
            raise ValueError("catalog has duplicate product ids")
        cents = np.array([p[1] for p in parsed], dtype=np.int64)
        return cls(
            product_ids=np.array(ids, dtype=np.int64),
            price_cents=cents,
            titles=tuple(p[2] for p in parsed),
            categories=tuple(p[3] for p in parsed),
            log_weights=-PRICE_ELASTICITY * np.log(cents / 100.0),
        )


# --- order lifecycle ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Lifecycle:
    """When each status change of an order happens (day ordinals) and at what second of that day."""

    pay_day: np.ndarray
    ship_day: np.ndarray
    deliver_day: np.ndarray
    cancel_day: np.ndarray
    return_day: np.ndarray
    seconds: np.ndarray  # shape (6, n): second of day of the change into each status

    @classmethod
    def of(cls, seed: int, order_ids: np.ndarray, order_days: np.ndarray) -> _Lifecycle:
        """Derive the lifecycle from (seed, order_id): fixed at creation, never stored."""
        u = {s: keyed_uniform(seed, s, order_ids) for s in _LIFECYCLE_STREAMS}
        s0 = _LIFECYCLE_STREAMS[0]
        pay = order_days + 1 + (u[s0] > 0.70) + (u[s0] > 0.95)
        ship = pay + 1 + np.floor(u[s0 + 1] * 3).astype(np.int64)
        deliver = ship + 2 + np.floor(u[s0 + 2] * 5).astype(np.int64)
        cancelled = u[s0 + 3] < CANCEL_SHARE
        # Cancellation happens on a day strictly between ordering and shipping.
        cancel = np.where(
            cancelled, order_days + 1 + np.floor(u[s0 + 4] * (ship - order_days - 1)).astype(np.int64), _NEVER
        )
        returned = ~cancelled & (u[s0 + 5] < RETURN_SHARE)
        ret = np.where(returned, deliver + 1 + np.floor(u[s0 + 6] * RETURN_WINDOW_DAYS).astype(np.int64), _NEVER)
        seconds = np.zeros((6, len(order_ids)), dtype=np.int64)
        seconds[PAID] = np.floor(u[s0 + 7] * 86_400)
        seconds[SHIPPED] = 6 * 3600 + np.floor(u[s0 + 8] * 16 * 3600)
        seconds[DELIVERED] = 8 * 3600 + np.floor(u[s0 + 9] * 12 * 3600)
        seconds[CANCELLED] = np.floor(u[s0 + 10] * 86_400)
        seconds[RETURNED] = 9 * 3600 + np.floor(u[s0 + 11] * 10 * 3600)
        return cls(pay, ship, deliver, cancel, ret, seconds)

    def status_on(self, day_ordinal: int) -> np.ndarray:
        """Each order's status at the end of the given day."""
        status = np.full(len(self.pay_day), PLACED, dtype=np.int8)
        status[day_ordinal >= self.pay_day] = PAID
        status[day_ordinal >= self.ship_day] = SHIPPED
        status[day_ordinal >= self.deliver_day] = DELIVERED
        status[day_ordinal >= self.return_day] = RETURNED
        # Cancellation comes before shipping, so it overrides the later steps it prevented.
        status[day_ordinal >= self.cancel_day] = CANCELLED
        return status


# --- the in-memory shop -------------------------------------------------------------------------------
@dataclass
class _Customers:
    ids: np.ndarray
    first: list[str]
    last: list[str]
    email: list[str]
    phone: list[str | None]
    city: list[str]
    country: np.ndarray  # index into people.COUNTRIES
    segment: np.ndarray  # index into LOYALTY_SEGMENTS
    appetite: np.ndarray


@dataclass
class _Orders:
    ids: np.ndarray
    customer_index: np.ndarray
    day: np.ndarray  # ordinal of the order's day
    status: np.ndarray
    amount_cents: np.ndarray


def _appetite(seed: int, customer_ids: np.ndarray) -> np.ndarray:
    """A fixed, heavy-tailed buying appetite per customer, derived from (seed, customer_id)."""
    u = keyed_uniform(seed, _STREAM_APPETITE, customer_ids)
    return (-np.log1p(-u)) ** 1.6 + 0.02


def _load_customers(cur: Any, seed: int) -> _Customers:
    cur.execute(
        "select customer_id, first_name, last_name, email, phone, city, country, loyalty_segment "
        "from customers order by customer_id"
    )
    rows = cur.fetchall()
    countries, segments = [], []
    for row in rows:
        if row[6] not in people.COUNTRY_INDEX:
            raise SimulationError(
                f"customer {row[0]} has country {row[6]!r}, which the simulator never writes: "
                "the shop database was changed outside the simulator"
            )
        countries.append(people.COUNTRY_INDEX[row[6]])
        segments.append(LOYALTY_SEGMENTS.index(row[7]))
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    return _Customers(
        ids=ids,
        first=[r[1] for r in rows],
        last=[r[2] for r in rows],
        email=[r[3] for r in rows],
        phone=[r[4] for r in rows],
        city=[r[5] for r in rows],
        country=np.array(countries, dtype=np.int64),
        segment=np.array(segments, dtype=np.int64),
        appetite=_appetite(seed, ids),
    )


def _load_orders(cur: Any, customers: _Customers, since: date) -> _Orders:
    cur.execute(
        """
        select o.order_id, o.customer_id,
               floor(extract(epoch from o.ordered_at) / 86400)::bigint,
               o.status,
               coalesce(sum(i.quantity * round(i.unit_price * 100)), 0)::bigint
        from orders o
        left join order_items i on i.order_id = o.order_id
        where o.ordered_at >= %s
        group by o.order_id
        order by o.order_id
        """,
        (since,),
    )
    rows = cur.fetchall()
    customer_ids = np.array([r[1] for r in rows], dtype=np.int64)
    index = np.searchsorted(customers.ids, customer_ids)
    return _Orders(
        ids=np.array([r[0] for r in rows], dtype=np.int64),
        customer_index=index.astype(np.int64),
        day=np.array([r[2] for r in rows], dtype=np.int64) + _EPOCH_ORDINAL,
        status=np.array([ORDER_STATUSES.index(r[3]) for r in rows], dtype=np.int8),
        amount_cents=np.array([r[4] for r in rows], dtype=np.int64),
    )


# --- COPY helpers --------------------------------------------------------------------------------------
def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_rows(cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    buffer = io.StringIO()
    count = 0
    for row in rows:
        buffer.write("\t".join(_copy_text(v) for v in row))
        buffer.write("\n")
        count += 1
    if count:
        buffer.seek(0)
        cur.copy_expert(f"copy {table} ({', '.join(columns)}) from stdin", buffer)
    return count


def _timestamps(day: date, seconds: np.ndarray) -> list[str]:
    base = np.datetime64(day.isoformat(), "s")
    stamps = np.datetime_as_string(base + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]"), unit="s")
    return [f"{s}+00" for s in stamps.tolist()]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


# --- the simulator ---------------------------------------------------------------------------------------
@dataclass
class _State:
    seed: int
    scale: float
    first_day: date
    last_day: date
    late_events: str


class _ShopSimulator:
    def __init__(self, conn: connection, seed: int, scale: float, catalog: _Catalog, state: _State | None):
        self.conn = conn
        self.seed = seed
        self.scale = scale
        self.catalog = catalog
        self.state = state
        self.names = people.name_pools(seed)
        with conn.cursor() as cur:
            self.customers = _load_customers(cur, seed)
            since = (
                state.last_day + timedelta(days=1) - timedelta(days=SPEND_WINDOW_DAYS + 1)
                if state
                else date(1970, 1, 2)
            )
            self.orders = _load_orders(cur, self.customers, since)
            cur.execute(
                "select coalesce(max(order_id), 0), (select coalesce(max(order_item_id), 0) from order_items) from orders"
            )
            max_order, max_item = cur.fetchone()
        self.next_customer_id = int(self.customers.ids.max()) + 1 if len(self.customers.ids) else 1
        self.next_order_id = int(max_order) + 1
        self.next_item_id = int(max_item) + 1
        self.carried = clickstream.decode_carried(state.late_events) if state else []

    # The day step -------------------------------------------------------------------------------------
    def simulate(self, day: date, s3_client: Any, bucket: str) -> DaySummary:
        rng = day_rng(self.seed, day, _STREAM_SHOP)
        ordinal = day.toordinal()
        factor = day_factor(day)
        cust = self.customers
        n_existing = len(cust.ids)

        # New customers; the first day opens the shop with a launch cohort.
        n_regular = int(rng.poisson(NEW_CUSTOMERS_PER_DAY * self.scale * factor))
        n_launch = max(1, round(LAUNCH_CUSTOMERS * self.scale)) if n_existing == 0 else 0
        n_new = n_launch + n_regular
        orders_expected = ORDERS_PER_DAY * self.scale * factor
        buy_share = np.full(n_new, FIRST_ORDER_SHARE)
        buy_share[:n_launch] = min(1.0, orders_expected / max(n_launch, 1))
        buys = rng.random(n_new) < buy_share
        first_order_sec = seconds_in_day(rng, n_new, min_second=MIN_ORDER_SECOND)
        lead = rng.integers(60, 1200, size=n_new)
        registered_sec = np.where(buys, np.maximum(first_order_sec - lead, 0), seconds_in_day(rng, n_new))
        new_ids = np.arange(self.next_customer_id, self.next_customer_id + n_new, dtype=np.int64)
        new_people = self._new_people(rng, new_ids)

        # Orders: first orders of today's buyers, then repeat orders of earlier customers.
        repeat_expected = max(orders_expected - FIRST_ORDER_SHARE * NEW_CUSTOMERS_PER_DAY * self.scale * factor, 0)
        n_repeat = int(rng.poisson(repeat_expected)) if n_existing else 0
        repeat_index = (
            rng.choice(n_existing, size=n_repeat, p=cust.appetite / cust.appetite.sum())
            if n_repeat
            else np.empty(0, dtype=np.int64)
        )
        repeat_sec = seconds_in_day(rng, n_repeat, min_second=MIN_ORDER_SECOND)
        buyer_index = np.concatenate([n_existing + np.flatnonzero(buys), repeat_index]).astype(np.int64)
        order_sec = np.concatenate([first_order_sec[buys], repeat_sec])
        by_time = np.argsort(order_sec, kind="stable")
        buyer_index, order_sec = buyer_index[by_time], order_sec[by_time]
        n_orders = len(order_sec)
        order_ids = np.arange(self.next_order_id, self.next_order_id + n_orders, dtype=np.int64)
        payment = rng.choice(len(PAYMENT_METHODS), size=n_orders, p=PAYMENT_SHARE)

        n_products = len(self.catalog.product_ids)
        basket = np.minimum(1 + rng.choice(4, size=n_orders, p=BASKET_SIZE_SHARE), n_products)
        # Weighted sampling without replacement (Gumbel top-k): distinct products within an order.
        keys = self.catalog.log_weights[None, :] + rng.gumbel(size=(n_orders, n_products))
        ranked = np.argsort(-keys, axis=1, kind="stable")
        line_product_index = ranked[np.arange(n_products)[None, :] < basket[:, None]]
        line_order_index = np.repeat(np.arange(n_orders), basket)
        quantity = 1 + rng.choice(3, size=len(line_order_index), p=QUANTITY_SHARE)
        unit_cents = self.catalog.price_cents[line_product_index]
        amount = np.bincount(line_order_index, weights=quantity * unit_cents, minlength=n_orders).astype(np.int64)
        item_ids = np.arange(self.next_item_id, self.next_item_id + len(line_order_index), dtype=np.int64)

        # Status changes of earlier orders (today's own orders start moving tomorrow).
        status_changes = self._advance_statuses(ordinal)

        # Add today's customers and orders to the in-memory shop.
        self._append_customers(new_ids, new_people)
        self.orders = _Orders(
            ids=np.concatenate([self.orders.ids, order_ids]),
            customer_index=np.concatenate([self.orders.customer_index, buyer_index]),
            day=np.concatenate([self.orders.day, np.full(n_orders, ordinal, dtype=np.int64)]),
            status=np.concatenate([self.orders.status, np.full(n_orders, PLACED, dtype=np.int8)]),
            amount_cents=np.concatenate([self.orders.amount_cents, amount]),
        )

        # Profile changes of earlier customers, then the nightly loyalty recomputation.
        change_sec: dict[int, int] = {}
        self._profile_changes(rng, n_existing, change_sec)
        segment_changed = self._recompute_segments(ordinal)
        existing_changed = np.flatnonzero(segment_changed[:n_existing])
        job_sec = SEGMENT_JOB_SECOND + rng.integers(0, 1800, size=len(segment_changed))
        for i in existing_changed.tolist():
            change_sec[i] = max(change_sec.get(i, 0), int(job_sec[i]))

        # Clickstream of the day.
        line_starts = np.concatenate([[0], np.cumsum(basket)])
        line_products = self.catalog.product_ids[line_product_index].tolist()
        events = clickstream.generate_day_events(
            self.seed,
            day,
            self.scale,
            clickstream.DayOrders(
                order_ids=order_ids,
                customer_ids=cust.ids[buyer_index],
                ordered_seconds=order_sec,
                line_products=[line_products[line_starts[i] : line_starts[i + 1]] for i in range(n_orders)],
            ),
            # Logged-in browsing is by customers who already existed before today.
            cust.ids[:n_existing],
            cust.appetite[:n_existing],
            self.catalog.product_ids,
            np.exp(self.catalog.log_weights),
        )
        objects, spill = clickstream.hourly_objects(events, self.carried)

        # Write the day atomically: rows and state in one transaction, committed after delivery.
        with self.conn.cursor() as cur:
            new_stamp_reg = _timestamps(day, registered_sec)
            new_updated = np.where(
                cust.segment[n_existing:] != 0, np.maximum(job_sec[n_existing:], registered_sec), registered_sec
            )
            new_stamp_upd = _timestamps(day, new_updated)
            _copy_rows(
                cur,
                "customers",
                _CUSTOMER_COLUMNS,
                (
                    (
                        int(cust.ids[n_existing + k]),
                        cust.first[n_existing + k],
                        cust.last[n_existing + k],
                        cust.email[n_existing + k],
                        cust.phone[n_existing + k],
                        cust.city[n_existing + k],
                        people.COUNTRIES[cust.country[n_existing + k]].name,
                        new_stamp_reg[k],
                        LOYALTY_SEGMENTS[cust.segment[n_existing + k]],
                        new_stamp_reg[k],
                        new_stamp_upd[k],
                    )
                    for k in range(n_new)
                ),
            )
            order_stamps = _timestamps(day, order_sec)
            _copy_rows(
                cur,
                "orders",
                _ORDER_COLUMNS,
                (
                    (
                        int(order_ids[k]),
                        int(cust.ids[buyer_index[k]]),
                        order_stamps[k],
                        "placed",
                        PAYMENT_METHODS[payment[k]],
                        order_stamps[k],
                        order_stamps[k],
                    )
                    for k in range(n_orders)
                ),
            )
            _copy_rows(
                cur,
                "order_items",
                _ORDER_ITEM_COLUMNS,
                (
                    (
                        int(item_ids[k]),
                        int(order_ids[line_order_index[k]]),
                        int(self.catalog.product_ids[line_product_index[k]]),
                        int(quantity[k]),
                        _money(int(unit_cents[k])),
                        order_stamps[line_order_index[k]],
                        order_stamps[line_order_index[k]],
                    )
                    for k in range(len(item_ids))
                ),
            )
            self._write_status_changes(cur, day, status_changes)
            self._write_customer_changes(cur, day, change_sec)
            cur.execute(
                """
                insert into simulation_state (singleton, seed, scale, first_day, last_day, late_events)
                values (true, %s, %s, %s, %s, %s)
                on conflict (singleton) do update
                set last_day = excluded.last_day, late_events = excluded.late_events
                """,
                (self.seed, self.scale, day, day, clickstream.encode_carried(spill)),
            )
        try:
            clickstream.upload_hourly_objects(s3_client, bucket, day, objects)
        except Exception:
            self.conn.rollback()
            raise
        self.conn.commit()

        self.carried = spill
        self.next_customer_id += n_new
        self.next_order_id += n_orders
        self.next_item_id += len(item_ids)
        return DaySummary(
            day=day,
            new_customers=n_new,
            orders=n_orders,
            order_items=len(item_ids),
            revenue=round(float(amount.sum()) / 100, 2),
            status_changes=len(status_changes[0]),
            segment_changes=len(existing_changed),
            events=len(events),
        )

    # Parts of the day step ---------------------------------------------------------------------------
    def _new_people(self, rng: np.random.Generator, new_ids: np.ndarray) -> dict[str, list]:
        n = len(new_ids)
        country = rng.choice(len(people.COUNTRIES), size=n, p=people.COUNTRY_SHARE)
        name_draws = rng.integers(0, 1 << 30, size=(n, 2))
        city_u = rng.random(n)
        phone_missing = rng.random(n) < PHONE_MISSING_SHARE
        email_choice = rng.integers(0, people.EMAIL_PATTERNS, size=n)
        domain_choice = rng.choice(len(people.EMAIL_DOMAINS), size=n, p=people.EMAIL_DOMAIN_SHARE)
        out: dict[str, list] = {"first": [], "last": [], "email": [], "phone": [], "city": [], "country": []}
        for k in range(n):
            c = people.COUNTRIES[country[k]]
            firsts, lasts = self.names[country[k]]
            first = firsts[name_draws[k, 0] % len(firsts)]
            last = lasts[name_draws[k, 1] % len(lasts)]
            shares = np.cumsum(people.city_share(c))
            city = c.cities[min(int(np.searchsorted(shares, city_u[k], side="right")), len(c.cities) - 1)]
            out["first"].append(first)
            out["last"].append(last)
            out["email"].append(
                people.make_email(first, last, int(new_ids[k]), int(email_choice[k]), int(domain_choice[k]))
            )
            out["phone"].append(None if phone_missing[k] else people.make_phone(rng, c))
            out["city"].append(city)
            out["country"].append(int(country[k]))
        return out

    def _append_customers(self, new_ids: np.ndarray, new_people: dict[str, list]) -> None:
        c = self.customers
        c.ids = np.concatenate([c.ids, new_ids])
        c.first += new_people["first"]
        c.last += new_people["last"]
        c.email += new_people["email"]
        c.phone += new_people["phone"]
        c.city += new_people["city"]
        c.country = np.concatenate([c.country, np.array(new_people["country"], dtype=np.int64)])
        c.segment = np.concatenate([c.segment, np.zeros(len(new_ids), dtype=np.int64)])
        c.appetite = np.concatenate([c.appetite, _appetite(self.seed, new_ids)])

    def _advance_statuses(self, ordinal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        o = self.orders
        start = int(np.searchsorted(o.day, ordinal - _LIFECYCLE_DAYS, side="left"))
        window = slice(start, len(o.ids))
        lifecycle = _Lifecycle.of(self.seed, o.ids[window], o.day[window])
        new_status = lifecycle.status_on(ordinal)
        current = o.status[window]
        changed = np.flatnonzero(new_status != current)
        for target, sources in _ALLOWED_FROM.items():
            bad = changed[(new_status[changed] == target) & ~np.isin(current[changed], sources)]
            if len(bad):
                k = int(bad[0])
                raise SimulationError(
                    f"order {int(o.ids[start + k])} would move from {ORDER_STATUSES[current[k]]} to "
                    f"{ORDER_STATUSES[target]}, which is not an allowed step: the shop database was "
                    "changed outside the simulator"
                )
        seconds = lifecycle.seconds[new_status[changed], changed]
        o.status[start + changed] = new_status[changed]
        return o.ids[start + changed], new_status[changed], seconds

    def _profile_changes(self, rng: np.random.Generator, n_existing: int, change_sec: dict[int, int]) -> None:
        c = self.customers
        n_move = int(rng.binomial(n_existing, MONTHLY_MOVE_SHARE * 12 / 365.25)) if n_existing else 0
        movers = np.sort(rng.choice(n_existing, size=n_move, replace=False)) if n_move else np.empty(0, int)
        move_sec = seconds_in_day(rng, n_move)
        abroad = rng.random(n_move) < MOVE_ABROAD_SHARE
        for k, i in enumerate(movers.tolist()):
            country = int(c.country[i])
            if abroad[k]:
                others = [j for j in range(len(people.COUNTRIES)) if j != country]
                country = others[int(rng.integers(0, len(others)))]
            target = people.COUNTRIES[country]
            choices = [city for city in target.cities if city != c.city[i]]
            shares = _renorm(people.city_share(target), target.cities, c.city[i])
            c.city[i] = choices[int(rng.choice(len(choices), p=shares))]
            c.country[i] = country
            change_sec[i] = max(change_sec.get(i, 0), int(move_sec[k]))

        n_email = int(rng.binomial(n_existing, MONTHLY_EMAIL_CHANGE_SHARE * 12 / 365.25)) if n_existing else 0
        changers = np.sort(rng.choice(n_existing, size=n_email, replace=False)) if n_email else np.empty(0, int)
        email_sec = seconds_in_day(rng, n_email)
        for k, i in enumerate(changers.tolist()):
            current = c.email[i]
            for _ in range(20):
                candidate = people.make_email(
                    c.first[i],
                    c.last[i],
                    int(c.ids[i]),
                    int(rng.integers(0, people.EMAIL_PATTERNS)),
                    int(rng.integers(0, len(people.EMAIL_DOMAINS))),
                )
                if candidate != current:
                    break
            c.email[i] = candidate
            change_sec[i] = max(change_sec.get(i, 0), int(email_sec[k]))

    def _recompute_segments(self, ordinal: int) -> np.ndarray:
        """Set every customer's segment from trailing spend; return which customers changed."""
        o, c = self.orders, self.customers
        start = int(np.searchsorted(o.day, ordinal - SPEND_WINDOW_DAYS + 1, side="left"))
        counted = (o.status[start:] != CANCELLED) & (o.status[start:] != RETURNED)
        spend = np.bincount(
            o.customer_index[start:][counted],
            weights=o.amount_cents[start:][counted].astype(np.float64),
            minlength=len(c.ids),
        )
        thresholds = np.array(SEGMENT_THRESHOLDS_USD) * 100
        segment = np.searchsorted(thresholds, spend, side="right").astype(np.int64)
        changed = segment != c.segment
        c.segment = segment
        # Orders older than any window still needed are dropped to keep memory flat over long runs.
        keep_from = int(np.searchsorted(o.day, ordinal - max(SPEND_WINDOW_DAYS, _LIFECYCLE_DAYS) - 1))
        if keep_from > 50_000:
            self.orders = _Orders(
                ids=o.ids[keep_from:],
                customer_index=o.customer_index[keep_from:],
                day=o.day[keep_from:],
                status=o.status[keep_from:],
                amount_cents=o.amount_cents[keep_from:],
            )
        return changed

    def _write_status_changes(self, cur: Any, day: date, changes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        ids, statuses, seconds = changes
        if not len(ids):
            return
        stamps = _timestamps(day, seconds)
        cur.execute(
            "create temp table if not exists _status_changes "
            "(order_id bigint primary key, status text not null, updated_at timestamptz not null) "
            "on commit delete rows"
        )
        _copy_rows(
            cur,
            "_status_changes",
            ("order_id", "status", "updated_at"),
            ((int(ids[k]), ORDER_STATUSES[statuses[k]], stamps[k]) for k in range(len(ids))),
        )
        cur.execute(
            "update orders o set status = c.status, updated_at = c.updated_at "
            "from _status_changes c where o.order_id = c.order_id"
        )
        if cur.rowcount != len(ids):
            raise SimulationError(
                f"{day}: {len(ids)} order status changes matched {cur.rowcount} orders: "
                "the shop database was changed outside the simulator"
            )

    def _write_customer_changes(self, cur: Any, day: date, change_sec: dict[int, int]) -> None:
        if not change_sec:
            return
        c = self.customers
        indexes = sorted(change_sec)
        stamps = _timestamps(day, np.array([change_sec[i] for i in indexes]))
        cur.execute(
            "create temp table if not exists _customer_changes "
            "(customer_id bigint primary key, email text not null, city text not null, country text not null, "
            "loyalty_segment text not null, updated_at timestamptz not null) on commit delete rows"
        )
        _copy_rows(
            cur,
            "_customer_changes",
            ("customer_id", "email", "city", "country", "loyalty_segment", "updated_at"),
            (
                (
                    int(c.ids[i]),
                    c.email[i],
                    c.city[i],
                    people.COUNTRIES[c.country[i]].name,
                    LOYALTY_SEGMENTS[c.segment[i]],
                    stamps[k],
                )
                for k, i in enumerate(indexes)
            ),
        )
        cur.execute(
            "update customers t set email = c.email, city = c.city, country = c.country, "
            "loyalty_segment = c.loyalty_segment, updated_at = c.updated_at "
            "from _customer_changes c where t.customer_id = c.customer_id"
        )
        if cur.rowcount != len(indexes):
            raise SimulationError(
                f"{day}: {len(indexes)} customer changes matched {cur.rowcount} customers: "
                "the shop database was changed outside the simulator"
            )


def _renorm(shares: np.ndarray, cities: Sequence[str], excluded: str) -> np.ndarray:
    kept = np.array([s for s, city in zip(shares, cities, strict=True) if city != excluded])
    return kept / kept.sum()


def _read_state(cur: Any) -> _State | None:
    cur.execute("select seed, scale, first_day, last_day, late_events from simulation_state")
    row = cur.fetchone()
    return _State(*row) if row else None


def _upsert_products(cur: Any, catalog: _Catalog) -> None:
    cur.executemany(
        """
        insert into products (product_id, title, price, category) values (%s, %s, %s, %s)
        on conflict (product_id) do update
        set title = excluded.title, price = excluded.price, category = excluded.category
        where (products.title, products.price, products.category)
              is distinct from (excluded.title, excluded.price, excluded.category)
        """,
        [
            (int(pid), title, _money(int(cents)), category)
            for pid, cents, title, category in zip(
                catalog.product_ids, catalog.price_cents, catalog.titles, catalog.categories, strict=True
            )
        ],
    )


_LOCK_KEY = 0x5F0F_5101


def simulate_days(
    shop_dsn: str,
    s3_client: Any,
    bucket: str,
    catalog: list[dict],
    first_day: date,
    last_day: date,
    *,
    scale: float = 1.0,
    seed: int = 42,
    progress: Callable[[date], None] | None = None,
) -> list[DaySummary]:
    """Simulate the shop for each day in [first_day, last_day]; days simulated before are skipped.

    Writes the `shop` database at `shop_dsn` and the clickstream objects into `bucket`. Raises
    SimulationError when the stored seed/scale differ, or the range leaves a gap after (or starts
    before) the days already simulated.
    """
    if last_day < first_day:
        raise ValueError(f"last_day {last_day} is before first_day {first_day}")
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, got {scale!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**62:
        raise ValueError(f"seed must be an integer in [0, 2**62), got {seed!r}")
    scale = float(scale)
    parsed_catalog = _Catalog.from_rows(catalog)
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]

    conn = psycopg2.connect(shop_dsn)
    try:
        create_shop_schema(conn)
        with conn.cursor() as cur:
            cur.execute("select pg_try_advisory_lock(%s)", (_LOCK_KEY,))
            if not cur.fetchone()[0]:
                raise SimulationError(
                    "another shop simulator is writing to this database right now; wait for it to finish"
                )
            state = _read_state(cur)
            if state is None:
                cur.execute("select exists (select 1 from customers) or exists (select 1 from orders)")
                if cur.fetchone()[0]:
                    raise SimulationError(
                        "the shop database has customers or orders but no simulation_state row: it was not "
                        "written by the simulator; use an empty database"
                    )
        conn.commit()
        if state is not None:
            if state.seed != seed or not math.isclose(state.scale, scale, rel_tol=1e-12):
                raise SimulationError(
                    f"the shop database was simulated with seed={state.seed} scale={state.scale:g} "
                    f"({state.first_day}..{state.last_day}); this run asks for seed={seed} scale={scale:g}. "
                    "Use the same seed and scale, or a fresh shop database"
                )
            if first_day < state.first_day:
                raise SimulationError(
                    f"cannot simulate {first_day}: the simulated history starts at {state.first_day} and "
                    "days are simulated in order; use a fresh shop database to start earlier"
                )
            if first_day > state.last_day + timedelta(days=1):
                raise SimulationError(
                    f"cannot simulate from {first_day}: the shop is simulated up to {state.last_day}, so the "
                    f"next day to simulate is {state.last_day + timedelta(days=1)}; a gap would break order "
                    "lifecycles and loyalty history"
                )

        summaries: list[DaySummary] = []
        simulator: _ShopSimulator | None = None
        for day in days:
            if state is not None and day <= state.last_day:
                summaries.append(DaySummary(day, 0, 0, 0, 0.0, 0, 0, 0, skipped=True))
            else:
                if simulator is None:
                    with conn.cursor() as cur:
                        _upsert_products(cur, parsed_catalog)
                    conn.commit()
                    simulator = _ShopSimulator(conn, seed, scale, parsed_catalog, state)
                summaries.append(simulator.simulate(day, s3_client, bucket))
            if progress is not None:
                progress(day)
        return summaries
    finally:
        # Release the advisory lock before closing: a closed connection's server process can hold
        # it a moment longer, and the next call (the demo's first replayed day, straight after the
        # history) then found it taken on a busy machine.
        try:
            if not conn.closed:
                conn.rollback()
                with conn.cursor() as cur:
                    cur.execute("select pg_advisory_unlock_all()")
        finally:
            conn.close()
