"""The shop's clickstream: web sessions with a purchase funnel, delivered hourly to the lake's landing zone.

Every order placed on a day gets a purchase session ending in exactly one `purchase` event at the
order's `ordered_at`; browsing sessions that do not buy make up the rest of the traffic. Events are
delivered the way a stream delivery service would: one gzipped JSON-lines object per hour of
arrival, where an event may arrive up to 10 minutes after it happened (the last hour's late events
land in the next day's hour=00 object).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from shopflow.contracts import DEVICE_TYPES, REFERRERS
from shopflow.sources.patterns import HOUR_SHARE, day_factor, day_rng, keyed_uniform

LANDING_PREFIX = "landing/clickstream/events"
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000
MAX_LATENESS_MS = 600_000

# Browsing sessions that end without a purchase, per day at scale 1 (before weekday/season factors).
BROWSE_SESSIONS_PER_DAY = 12.0
# How far a browsing session gets: bounce (page_view only), browse, cart, checkout.
BROWSE_STAGE_SHARE = np.array([0.46, 0.30, 0.15, 0.09])
# Share of browsing sessions by a logged-in customer; the rest are anonymous visitors.
BROWSE_LOGGED_IN_SHARE = 0.12
# Share of buyers logged in from their first page; the others log in at checkout.
BUYER_LOGGED_IN_FROM_START = 0.65
# Share of buyers who look at one more product before the ones they buy.
BUYER_EXTRA_VIEW_SHARE = 0.35
DEVICE_SHARE = np.array([0.42, 0.48, 0.10])
REFERRER_SHARE = np.array([0.28, 0.32, 0.10, 0.10, 0.12, 0.08])
# Share of events delivered late (20 s to 10 min after they happened); the others within 20 s.
LATE_SHARE = 0.03

_STREAM_CLICKSTREAM = 11
_STREAM_VISITOR = 12
_TAG_EVENT, _TAG_SESSION, _TAG_VISITOR, _TAG_CUSTOMER_VISITOR = 0, 1, 2, 3

EVENT_KEYS = (
    "event_id",
    "session_id",
    "visitor_id",
    "customer_id",
    "event_type",
    "product_id",
    "order_id",
    "device_type",
    "referrer",
    "event_time",
)


def landing_key(day: date, hour: int) -> str:
    """The landing-zone key of one hour's delivery object."""
    return f"{LANDING_PREFIX}/dt={day.isoformat()}/hour={hour:02d}/events.jsonl.gz"


@dataclass(frozen=True)
class DayOrders:
    """The orders placed on a day, as the clickstream needs them (one purchase session each)."""

    order_ids: np.ndarray  # int64
    customer_ids: np.ndarray  # int64
    ordered_seconds: np.ndarray  # seconds since the day's midnight UTC, >= 60
    line_products: Sequence[Sequence[int]]  # product ids of each order's lines, first line first


@dataclass(frozen=True)
class DayEvents:
    """One day's events: JSON lines plus when each happened and when it reaches the delivery stream."""

    day: date
    lines: list[str]
    event_ms: np.ndarray  # ms since the day's midnight
    arrival_ms: np.ndarray  # ms since the day's midnight; >= MS_PER_DAY means the next day's hour 00

    def __len__(self) -> int:
        return len(self.lines)


def _uuid_strings(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    out = []
    for h, low in zip(hi.tolist(), lo.tolist(), strict=True):
        s = f"{h:016x}{low:016x}"
        out.append(f"{s[:8]}-{s[8:12]}-{s[12:16]}-{s[16:20]}-{s[20:]}")
    return out


def _ids(rng: np.random.Generator, day: date, tag: int, count: int) -> list[str]:
    """`count` RFC 9562 version-8 UUIDs: 60 random bits plus (tag, day, sequence), so never repeated.

    The deterministic half makes ids unique across all days of one seed by construction; the
    random half keeps different seeds apart.
    """
    rand = rng.integers(0, 1 << 60, size=count, dtype=np.uint64)
    hi = ((rand >> np.uint64(12)) << np.uint64(16)) | np.uint64(0x8000) | (rand & np.uint64(0xFFF))
    seq = np.arange(count, dtype=np.uint64)
    lo = np.uint64((2 << 62) | (tag << 60) | (day.toordinal() << 38)) | seq
    return _uuid_strings(hi, lo)


def customer_visitor_ids(seed: int, customer_ids: np.ndarray) -> list[str]:
    """The stable visitor id of each customer's own browser (same customer, same id, every day)."""
    cids = np.asarray(customer_ids, dtype=np.uint64)
    rand = (keyed_uniform(seed, _STREAM_VISITOR, cids) * float(1 << 52)).astype(np.uint64)
    hi = ((rand >> np.uint64(4)) << np.uint64(16)) | np.uint64(0x8000) | (rand & np.uint64(0xFFF))
    lo = np.uint64((2 << 62) | (_TAG_CUSTOMER_VISITOR << 60)) | cids
    return _uuid_strings(hi, lo)


@dataclass
class _Session:
    visitor: int  # index into the day's visitor table
    device: int
    referrer: int
    steps: Sequence[tuple[int, int | None, int | None, int | None, int]]  # type, product, order, customer, ms


_PAGE_VIEW, _PRODUCT_VIEW, _ADD_TO_CART, _CHECKOUT, _PURCHASE = range(5)
_EVENT_TYPE_NAMES = ("page_view", "product_view", "add_to_cart", "checkout", "purchase")


def _gaps_ms(rng: np.random.Generator, count: int) -> np.ndarray:
    """Think time between two clicks: at least 2 s, typically under a minute."""
    return (2000 + rng.exponential(38_000, size=count)).astype(np.int64)


def generate_day_events(
    seed: int,
    day: date,
    scale: float,
    orders: DayOrders,
    customer_ids: np.ndarray,
    customer_weights: np.ndarray,
    product_ids: np.ndarray,
    product_weights: np.ndarray,
) -> DayEvents:
    """All clickstream events of `day`: one purchase session per order, plus browsing sessions.

    `customer_ids`/`customer_weights` are the customers who may browse logged in;
    `product_ids`/`product_weights` give product popularity. Deterministic in (seed, day, inputs).
    """
    rng = day_rng(seed, day, _STREAM_CLICKSTREAM)
    product_ids = np.asarray(product_ids, dtype=np.int64)
    product_p = np.asarray(product_weights, dtype=np.float64)
    product_p = product_p / product_p.sum()

    visitors: list[tuple[str, int]] = []  # ("anon", n) or ("customer", customer_id)
    sessions: list[_Session] = []
    anon_count = 0

    def new_anon_visitor() -> int:
        nonlocal anon_count
        visitors.append(("anon", anon_count))
        anon_count += 1
        return len(visitors) - 1

    def customer_visitor(customer_id: int) -> int:
        visitors.append(("customer", customer_id))
        return len(visitors) - 1

    # --- purchase sessions: the funnel is walked backwards from the order's timestamp --------------
    n_orders = len(orders.order_ids)
    logged_in = rng.random(n_orders) < BUYER_LOGGED_IN_FROM_START
    extra_view = rng.random(n_orders) < BUYER_EXTRA_VIEW_SHARE
    extra_product = rng.choice(product_ids, size=n_orders, p=product_p) if n_orders else np.empty(0)
    devices = rng.choice(len(DEVICE_TYPES), size=n_orders, p=DEVICE_SHARE)
    referrers = rng.choice(len(REFERRERS), size=n_orders, p=REFERRER_SHARE)
    for i in range(n_orders):
        order_id = int(orders.order_ids[i])
        customer_id = int(orders.customer_ids[i])
        lines = [int(p) for p in orders.line_products[i]]
        if not lines:
            raise ValueError(f"order {order_id} has no lines; every order needs at least one product")
        plan: list[tuple[int, int | None]] = [(_PAGE_VIEW, None)]
        if extra_view[i]:
            plan.append((_PRODUCT_VIEW, int(extra_product[i])))
        for line_product in lines:
            plan.append((_PRODUCT_VIEW, line_product))
            plan.append((_ADD_TO_CART, line_product))
        plan.append((_CHECKOUT, None))
        plan.append((_PURCHASE, lines[0]))
        purchase_ms = int(orders.ordered_seconds[i]) * 1000
        gaps = _gaps_ms(rng, len(plan) - 1)
        if gaps.sum() >= purchase_ms:
            # An order just after midnight: squeeze the session so it starts on the same day.
            gaps = np.maximum((gaps * (purchase_ms - 1) // (gaps.sum() + 1)), 1)
        before = np.concatenate([np.cumsum(gaps[::-1])[::-1], [0]])
        times = purchase_ms - before
        visitor = customer_visitor(customer_id) if logged_in[i] else new_anon_visitor()
        steps: list[tuple[int, int | None, int | None, int | None, int]] = []
        for (etype, product), t in zip(plan, times.tolist(), strict=True):
            known = logged_in[i] or etype in (_CHECKOUT, _PURCHASE)
            steps.append(
                (
                    etype,
                    product,
                    order_id if etype == _PURCHASE else None,
                    customer_id if known else None,
                    int(t),
                )
            )
        sessions.append(_Session(visitor, int(devices[i]), int(referrers[i]), steps))

    # --- browsing sessions that do not buy ---------------------------------------------------------
    n_browse = int(rng.poisson(BROWSE_SESSIONS_PER_DAY * scale * day_factor(day)))
    stages = rng.choice(4, size=n_browse, p=BROWSE_STAGE_SHARE)
    starts = rng.choice(24, size=n_browse, p=HOUR_SHARE) * MS_PER_HOUR + rng.integers(0, MS_PER_HOUR, size=n_browse)
    has_customers = len(customer_ids) > 0
    browse_logged = (rng.random(n_browse) < BROWSE_LOGGED_IN_SHARE) & has_customers
    browser_customers = np.zeros(n_browse, dtype=np.int64)
    if has_customers:
        cust_p = np.asarray(customer_weights, dtype=np.float64)
        browser_customers = rng.choice(np.asarray(customer_ids, dtype=np.int64), size=n_browse, p=cust_p / cust_p.sum())
    for i in range(n_browse):
        sessions.append(
            _browse_session(
                rng,
                int(stages[i]),
                int(starts[i]),
                int(browser_customers[i]) if browse_logged[i] else None,
                product_ids,
                product_p,
                new_anon_visitor,
                customer_visitor,
            )
        )

    # --- keep every hour alive: a quiet hour gets one anonymous bounce -----------------------------
    covered = np.zeros(24, dtype=bool)
    for s in sessions:
        for step in s.steps:
            covered[step[4] // MS_PER_HOUR] = True
    for hour in np.flatnonzero(~covered).tolist():
        start = hour * MS_PER_HOUR + int(rng.integers(0, MS_PER_HOUR))
        sessions.append(
            _Session(
                new_anon_visitor(),
                int(rng.choice(len(DEVICE_TYPES), p=DEVICE_SHARE)),
                int(rng.choice(len(REFERRERS), p=REFERRER_SHARE)),
                [(_PAGE_VIEW, None, None, None, start)],
            )
        )

    return _assemble(rng, seed, day, sessions, visitors, anon_count)


def _browse_session(
    rng: np.random.Generator,
    stage: int,
    start_ms: int,
    customer_id: int | None,
    product_ids: np.ndarray,
    product_p: np.ndarray,
    new_anon_visitor: Any,
    customer_visitor: Any,
) -> _Session:
    plan: list[tuple[int, int | None]] = [(_PAGE_VIEW, None)]
    if stage >= 1:
        n_views = int(rng.geometric(0.55)) if stage == 1 else 1 + int(rng.integers(0, 3))
        n_views = min(n_views, len(product_ids))
        viewed = rng.choice(product_ids, size=n_views, replace=False, p=product_p).tolist()
        n_cart = 0 if stage == 1 else min(1 + int(rng.random() < 0.3), n_views)
        for j, product in enumerate(viewed):
            plan.append((_PRODUCT_VIEW, int(product)))
            if j < n_cart:
                plan.append((_ADD_TO_CART, int(product)))
        if stage == 3:
            plan.append((_CHECKOUT, None))
    gaps = _gaps_ms(rng, len(plan) - 1)
    times = start_ms + np.concatenate([[0], np.cumsum(gaps)])
    if times[-1] >= MS_PER_DAY:
        # A session that would run past midnight is moved earlier: it belongs to this day's data.
        times = times - (times[-1] - (MS_PER_DAY - 1))
    device = int(rng.choice(len(DEVICE_TYPES), p=DEVICE_SHARE))
    referrer = int(rng.choice(len(REFERRERS), p=REFERRER_SHARE))
    visitor = customer_visitor(customer_id) if customer_id is not None else new_anon_visitor()
    steps = [
        (etype, product, None, customer_id, int(t)) for (etype, product), t in zip(plan, times.tolist(), strict=True)
    ]
    return _Session(visitor, device, referrer, steps)


def _assemble(
    rng: np.random.Generator,
    seed: int,
    day: date,
    sessions: list[_Session],
    visitors: list[tuple[str, int]],
    anon_count: int,
) -> DayEvents:
    session_ids = _ids(rng, day, _TAG_SESSION, len(sessions))
    anon_ids = _ids(rng, day, _TAG_VISITOR, anon_count)
    customer_keys = sorted({key for kind, key in visitors if kind == "customer"})
    customer_vids = dict(zip(customer_keys, customer_visitor_ids(seed, np.array(customer_keys)), strict=True))
    visitor_ids = [anon_ids[key] if kind == "anon" else customer_vids[key] for kind, key in visitors]

    rows = []
    for s_index, s in enumerate(sessions):
        for step in s.steps:
            rows.append((step[4], s_index, step))
    # Events are numbered in time order; ties keep session order, so numbering is deterministic.
    rows.sort(key=lambda r: (r[0], r[1]))
    n = len(rows)
    event_ids = _ids(rng, day, _TAG_EVENT, n)
    event_ms = np.array([r[0] for r in rows], dtype=np.int64)
    base = np.datetime64(day.isoformat(), "ms")
    stamps = np.datetime_as_string(base + event_ms.astype("timedelta64[ms]"), unit="ms")
    late = rng.random(n) < LATE_SHARE
    delay = np.where(
        late,
        rng.integers(20_000, MAX_LATENESS_MS + 1, size=n),
        rng.integers(50, 20_000, size=n),
    )
    lines = []
    for k, (_, s_index, (etype, product, order_id, customer_id, _ms)) in enumerate(rows):
        s = sessions[s_index]
        record = {
            "event_id": event_ids[k],
            "session_id": session_ids[s_index],
            "visitor_id": visitor_ids[s.visitor],
            "customer_id": customer_id,
            "event_type": _EVENT_TYPE_NAMES[etype],
            "product_id": product,
            "order_id": order_id,
            "device_type": DEVICE_TYPES[s.device],
            "referrer": REFERRERS[s.referrer],
            "event_time": f"{stamps[k]}Z",
        }
        lines.append(json.dumps(record, separators=(",", ":")))
    return DayEvents(day=day, lines=lines, event_ms=event_ms, arrival_ms=event_ms + delay)


def hourly_objects(
    events: DayEvents, carried: Sequence[tuple[int, str]] = ()
) -> tuple[dict[int, bytes], list[tuple[int, str]]]:
    """Split a day's events into 24 gzipped hourly objects by arrival time.

    `carried` are (arrival ms after this day's midnight, line) pairs of the previous day that
    arrived after midnight; they go into hour 00. Returns the objects (hours 0-23, all present,
    possibly empty) and this day's events that arrive after its midnight, for the next day.
    """
    buckets: list[list[tuple[int, str]]] = [[] for _ in range(24)]
    for arrival, line in carried:
        if not 0 <= arrival < MS_PER_HOUR:
            raise ValueError(f"a carried-over event arrives {arrival} ms after midnight; expected < 1 h")
        buckets[0].append((arrival, line))
    spill: list[tuple[int, str]] = []
    for arrival, line in zip(events.arrival_ms.tolist(), events.lines, strict=True):
        if arrival >= MS_PER_DAY:
            spill.append((arrival - MS_PER_DAY, line))
        else:
            buckets[arrival // MS_PER_HOUR].append((arrival, line))
    objects = {}
    for hour, bucket in enumerate(buckets):
        bucket.sort(key=lambda item: item[0])
        payload = "".join(line + "\n" for _, line in bucket).encode("utf-8")
        # mtime=0: the same events always give the same bytes (re-deliveries are identical).
        objects[hour] = gzip.compress(payload, compresslevel=6, mtime=0)
    spill.sort(key=lambda item: item[0])
    return objects, spill


def upload_hourly_objects(
    s3_client: Any, bucket: str, day: date, objects: dict[int, bytes], *, max_workers: int = 8
) -> list[str]:
    """PUT the day's hourly objects concurrently (boto3 clients are thread-safe); return the keys."""

    def put(hour: int) -> str:
        key = landing_key(day, hour)
        s3_client.put_object(Bucket=bucket, Key=key, Body=objects[hour], ContentType="application/gzip")
        return key

    with ThreadPoolExecutor(max_workers=max_workers) as pool:
        return list(pool.map(put, sorted(objects)))


def encode_carried(carried: Sequence[tuple[int, str]]) -> str:
    """Serialise carried-over events for storage between runs: `arrival_ms<TAB>json` per line."""
    return "".join(f"{arrival}\t{line}\n" for arrival, line in carried)


def decode_carried(text: str) -> list[tuple[int, str]]:
    """Inverse of `encode_carried`."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        arrival, sep, line = raw.partition("\t")
        if not sep or not arrival.isdigit():
            raise ValueError(f"carried-over event line {number} is malformed: {raw[:80]!r}")
        out.append((int(arrival), line))
    return out


def read_hourly_object(s3_client: Any, bucket: str, day: date, hour: int) -> list[dict[str, Any]]:
    """Download and parse one hourly delivery object (for checks and tests)."""
    body = s3_client.get_object(Bucket=bucket, Key=landing_key(day, hour))["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).decode("utf-8").splitlines() if line]
