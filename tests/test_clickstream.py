"""The clickstream: funnel sessions, one purchase per order, hourly delivery with late arrivals."""

from __future__ import annotations

import gzip
import json
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg2
import pytest

from shopflow.config import replace_database
from shopflow.contracts import DEVICE_TYPES, EVENT_TYPES, REFERRERS
from shopflow.services.s3 import s3_client
from shopflow.sources import clickstream
from shopflow.sources.clickstream import (
    MS_PER_DAY,
    DayEvents,
    DayOrders,
    decode_carried,
    encode_carried,
    generate_day_events,
    hourly_objects,
    landing_key,
)
from shopflow.sources.fakestore_client import fetch_products
from shopflow.sources.shop_simulator import simulate_days

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DAY = date(2025, 6, 3)
FUNNEL = {name: rank for rank, name in enumerate(EVENT_TYPES)}


def _orders(n: int = 40, seed: int = 5) -> DayOrders:
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(60, 86_400, size=n))
    seconds[0] = 60  # an order one minute after midnight: its session must still start that day
    return DayOrders(
        order_ids=np.arange(1000, 1000 + n, dtype=np.int64),
        customer_ids=rng.integers(1, 50, size=n),
        ordered_seconds=seconds,
        line_products=[rng.choice(np.arange(1, 21), size=1 + i % 4, replace=False).tolist() for i in range(n)],
    )


def _generate(day: date = DAY, seed: int = 42, orders: DayOrders | None = None) -> DayEvents:
    return generate_day_events(
        seed,
        day,
        1.0,
        orders if orders is not None else _orders(),
        np.arange(1, 50),
        np.ones(49),
        np.arange(1, 21),
        np.linspace(2, 1, 20),
    )


def _parse(events: DayEvents) -> list[dict]:
    return [json.loads(line) for line in events.lines]


def _time(event: dict) -> datetime:
    return datetime.fromisoformat(event["event_time"].replace("Z", "+00:00"))


def check_purchase_sessions(events: list[dict], orders: dict[int, tuple[int, datetime, int]]) -> None:
    """Every order has exactly one purchase event, preceded by its session's funnel steps.

    `orders` maps order_id -> (customer_id, ordered_at, product_id of the first line).
    """
    purchases = [e for e in events if e["event_type"] == "purchase"]
    by_order = Counter(e["order_id"] for e in purchases)
    assert set(by_order) == set(orders)
    assert set(by_order.values()) == {1}
    sessions: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        sessions[e["session_id"]].append(e)
    for p in purchases:
        customer_id, ordered_at, first_product = orders[p["order_id"]]
        assert (p["customer_id"], _time(p), p["product_id"]) == (customer_id, ordered_at, first_product)
        steps = sorted(sessions[p["session_id"]], key=_time)
        assert steps[-1] is p
        kinds = [s["event_type"] for s in steps]
        assert kinds[0] == "page_view" and kinds[-2] == "checkout"
        assert "product_view" in kinds and "add_to_cart" in kinds
        assert _time(steps[0]).date() == ordered_at.date()
        assert {s["product_id"] for s in steps if s["event_type"] == "add_to_cart"} >= {first_product}
        assert len({s["visitor_id"] for s in steps}) == 1


# --- generation without services ---------------------------------------------------------------------
def test_every_order_gets_exactly_one_purchase_at_its_timestamp():
    orders = _orders()
    events = _parse(_generate(orders=orders))
    midnight = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    expected = {
        int(orders.order_ids[i]): (
            int(orders.customer_ids[i]),
            midnight + timedelta(seconds=int(orders.ordered_seconds[i])),
            int(orders.line_products[i][0]),
        )
        for i in range(len(orders.order_ids))
    }
    check_purchase_sessions(events, expected)


def test_events_follow_the_contract():
    events = _parse(_generate())
    assert all(list(e) == list(clickstream.EVENT_KEYS) for e in events)
    assert {e["event_type"] for e in events} == set(EVENT_TYPES)
    assert {e["device_type"] for e in events} <= set(DEVICE_TYPES)
    assert {e["referrer"] for e in events} <= set(REFERRERS)
    assert all(UUID_RE.match(e[k]) for e in events for k in ("event_id", "session_id", "visitor_id"))
    assert all(e["event_time"].endswith("Z") and _time(e).date() == DAY for e in events)
    assert all((e["order_id"] is not None) == (e["event_type"] == "purchase") for e in events)
    assert all(e["product_id"] is not None for e in events if e["event_type"] in ("product_view", "add_to_cart"))
    assert all(e["product_id"] is None for e in events if e["event_type"] in ("page_view", "checkout"))
    counts = Counter(e["event_type"] for e in events)
    # The funnel narrows at every step.
    assert counts["page_view"] > counts["checkout"] > counts["purchase"]
    assert counts["product_view"] > counts["add_to_cart"] > counts["checkout"]
    anonymous = sum(e["customer_id"] is None for e in events) / len(events)
    assert 0.25 <= anonymous <= 0.6
    assert all(e["visitor_id"] for e in events)


def test_sessions_respect_funnel_order():
    sessions: dict[str, list[dict]] = defaultdict(list)
    for e in _parse(_generate()):
        sessions[e["session_id"]].append(e)
    for steps in sessions.values():
        steps.sort(key=_time)
        ranks = [FUNNEL[s["event_type"]] for s in steps]
        assert ranks[0] == 0
        assert ranks.count(0) == 1
        # Browsing alternates product_view/add_to_cart; checkout and purchase come last.
        assert all(r <= 2 for r in ranks[: len(ranks) - ranks.count(3) - ranks.count(4)])
        assert [s["customer_id"] for s in steps if s["customer_id"] is not None] == [steps[-1]["customer_id"]] * sum(
            s["customer_id"] is not None for s in steps
        )


def test_same_seed_same_events_other_seed_other_ids():
    a, b, c = _generate(), _generate(), _generate(seed=43)
    assert a.lines == b.lines
    assert np.array_equal(a.arrival_ms, b.arrival_ms)
    ids_a = {json.loads(x)["event_id"] for x in a.lines}
    ids_c = {json.loads(x)["event_id"] for x in c.lines}
    assert not ids_a & ids_c


def test_event_ids_never_repeat_across_days():
    seen: set[str] = set()
    total = 0
    for offset in range(5):
        events = _parse(_generate(day=DAY + timedelta(days=offset)))
        total += len(events)
        seen |= {e["event_id"] for e in events}
        seen |= {e["session_id"] for e in events}
    sessions = sum(len({e["session_id"] for e in _parse(_generate(day=DAY + timedelta(days=o)))}) for o in range(5))
    assert len(seen) == total + sessions


def test_a_day_without_orders_still_covers_every_hour():
    empty = DayOrders(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), [])
    events = _parse(_generate(orders=empty))
    assert {_time(e).hour for e in events} == set(range(24))
    assert not any(e["event_type"] == "purchase" for e in events)


def test_hourly_objects_spill_late_events_into_the_next_day():
    lines = [json.dumps({"n": i}) for i in range(4)]
    events = DayEvents(
        day=DAY,
        lines=lines,
        event_ms=np.array([10, 3_599_000, MS_PER_DAY - 5_000, MS_PER_DAY - 1]),
        arrival_ms=np.array([20, 3_600_500, MS_PER_DAY + 240_000, MS_PER_DAY + 5]),
    )
    carried = [(599_000, json.dumps({"n": "late from yesterday"}))]
    objects, spill = hourly_objects(events, carried)
    assert sorted(objects) == list(range(24))
    decoded = {h: gzip.decompress(body).decode().splitlines() for h, body in objects.items()}
    assert decoded[0] == [lines[0], carried[0][1]]  # sorted by arrival
    assert decoded[1] == [lines[1]]  # happened at 00:59:59, arrived at 01:00:00.5
    assert all(decoded[h] == [] for h in range(2, 24))
    assert spill == [(5, lines[3]), (240_000, lines[2])]
    assert decode_carried(encode_carried(spill)) == spill
    again, _ = hourly_objects(events, carried)
    assert again == objects  # gzip without a timestamp: byte-identical re-deliveries


def test_lateness_is_bounded_to_ten_minutes():
    events = _generate()
    delay = events.arrival_ms - events.event_ms
    assert delay.min() > 0 and delay.max() <= clickstream.MAX_LATENESS_MS
    assert (delay > 60_000).any()


def test_carried_events_must_arrive_just_after_midnight():
    events = DayEvents(DAY, [], np.empty(0, np.int64), np.empty(0, np.int64))
    with pytest.raises(ValueError, match="arrives 4000000 ms after midnight"):
        hourly_objects(events, [(4_000_000, "{}")])
    with pytest.raises(ValueError, match="line 1 is malformed"):
        decode_carried("not-a-number\t{}\n")


def test_landing_key_layout():
    assert landing_key(date(2025, 1, 2), 7) == "landing/clickstream/events/dt=2025-01-02/hour=07/events.jsonl.gz"


# --- delivered by the simulator into the stack's S3 ------------------------------------------------------
@pytest.fixture(scope="module")
def delivered(stack) -> Iterator[tuple]:
    """Six simulated days: the shop database, the bucket and the simulator's summaries."""
    s3 = s3_client(stack)
    name = f"shop_click_{uuid.uuid4().hex[:10]}"
    bucket = f"click-test-{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(replace_database(stack.shop_dsn, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"create database {name}")
    s3.create_bucket(Bucket=bucket)
    dsn = replace_database(stack.shop_dsn, name)
    try:
        first, last = date(2025, 11, 26), date(2025, 12, 1)
        summaries = simulate_days(dsn, s3, bucket, fetch_products(stack.fakestore_api_url), first, last)
        yield dsn, s3, bucket, first, last, summaries
    finally:
        with admin.cursor() as cur:
            cur.execute(f"drop database if exists {name} with (force)")
        admin.close()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])
        s3.delete_bucket(Bucket=bucket)


def _landed(s3, bucket: str, day: date, hour: int) -> list[dict]:
    body = s3.get_object(Bucket=bucket, Key=landing_key(day, hour))["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def test_24_objects_per_day_and_late_events_in_the_right_object(delivered):
    dsn, s3, bucket, first, last, summaries = delivered
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    assert sorted(keys) == sorted(landing_key(d, h) for d in days for h in range(24))
    landed = 0
    for d in days:
        for hour in range(24):
            start = datetime(d.year, d.month, d.day, hour, tzinfo=UTC)
            for e in _landed(s3, bucket, d, hour):
                landed += 1
                assert start - timedelta(minutes=10) <= _time(e) < start + timedelta(hours=1)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("select late_events from simulation_state")
        pending = decode_carried(cur.fetchone()[0])
    conn.close()
    assert all(_time(json.loads(line)).date() == last for _, line in pending)
    assert landed + len(pending) == sum(s.events for s in summaries)


def test_every_order_has_one_purchase_event_and_ids_are_unique(delivered):
    dsn, s3, bucket, first, last, _ = delivered
    events = [
        e
        for d in range((last - first).days + 1)
        for h in range(24)
        for e in _landed(s3, bucket, first + timedelta(days=d), h)
    ]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("select late_events from simulation_state")
        events += [json.loads(line) for _, line in decode_carried(cur.fetchone()[0])]
        cur.execute(
            "select o.order_id, o.customer_id, o.ordered_at, "
            "(select i.product_id from order_items i where i.order_id = o.order_id order by i.order_item_id limit 1) "
            "from orders o"
        )
        orders = {r[0]: (r[1], r[2], r[3]) for r in cur.fetchall()}
        cur.execute("select count(*) from customers")
        customer_count = cur.fetchone()[0]
    conn.close()
    assert len(orders) > 100
    check_purchase_sessions(events, orders)
    assert len({e["event_id"] for e in events}) == len(events)
    known = {e["customer_id"] for e in events if e["customer_id"] is not None}
    assert max(known) <= customer_count
    # Every hour of every day has traffic.
    hours = Counter((_time(e).date(), _time(e).hour) for e in events)
    assert all(hours[(first + timedelta(days=d), h)] > 0 for d in range((last - first).days + 1) for h in range(24))
