"""The FakeStore client against a local HTTP server that misbehaves on purpose, and the stack's API."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import pytest
import requests

from shopflow.contracts import PRODUCTS
from shopflow.sources import SourceError
from shopflow.sources.fakestore_client import fetch_products

CATALOG = json.loads(resources.files("shopflow.data").joinpath("fakestore-products.json").read_text("utf-8"))


def _catalog_with(change) -> bytes:
    products = copy.deepcopy(CATALOG)
    change(products)
    return json.dumps(products).encode()


# Each mode is a path prefix: GET /<mode>/products behaves as described.
BODIES = {
    "ok": json.dumps(CATALOG).encode(),
    "malformed": b'[{"id": 1, "title": "Backpack"',
    "not-a-list": json.dumps({"products": CATALOG}).encode(),
    "missing-field": _catalog_with(lambda p: p[2]["rating"].pop("count")),
    "missing-title": _catalog_with(lambda p: p[4].pop("title")),
    "wrong-type": _catalog_with(lambda p: p[6].__setitem__("price", "9.99")),
    "bool-id": _catalog_with(lambda p: p[0].__setitem__("id", True)),
    "not-an-object": _catalog_with(lambda p: p.__setitem__(1, "product")),
    "duplicate-id": _catalog_with(lambda p: p[5].__setitem__("id", 1)),
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        mode, _, rest = self.path.strip("/").partition("/")
        with self.server.lock:
            self.server.hits[mode] += 1
            hit = self.server.hits[mode]
        if rest != "products":
            self._send(404, b'{"error": "not found"}')
        elif mode == "flaky":  # 500 on the first request, then the catalog
            self._send(500, b"{}") if hit == 1 else self._send(200, BODIES["ok"])
        elif mode == "down":
            self._send(503, b"{}")
        elif mode == "slow":
            time.sleep(1.0)
            self._send(200, BODIES["ok"])
        elif mode in BODIES:
            self._send(200, BODIES[mode])
        else:
            self._send(404, b'{"error": "unknown mode"}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()


@pytest.fixture
def api() -> Iterator[tuple[str, _Server]]:
    server = _Server()
    # shutdown() waits for serve_forever's next poll: the default 0.5 s would be paid by every test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def test_ok_returns_contract_rows_with_titles_untouched(api):
    base, server = api
    rows = fetch_products(f"{base}/ok/", backoff=0)
    assert server.hits["ok"] == 1
    assert len(rows) == 20
    assert all(list(row) == PRODUCTS.data_column_names for row in rows)
    by_id = {row["product_id"]: row for row in rows}
    assert by_id[2]["title"] == "Mens Casual Premium Slim Fit T-Shirts "  # trailing space kept
    assert by_id[5]["price"] == 695.0
    assert by_id[1]["rating_rate"] == 3.9 and by_id[1]["rating_count"] == 120
    assert {row["category"] for row in rows} == {"electronics", "jewelery", "men's clothing", "women's clothing"}


def test_retries_a_500_then_succeeds(api):
    base, server = api
    rows = fetch_products(f"{base}/flaky", retries=3, backoff=0.01)
    assert len(rows) == 20
    assert server.hits["flaky"] == 2


def test_gives_up_after_the_last_retry_naming_url_attempts_and_error(api):
    base, server = api
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetch_products(f"{base}/down", retries=2, backoff=0.05)
    elapsed = time.monotonic() - started
    assert server.hits["down"] == 3
    message = str(err.value)
    assert f"{base}/down/products" in message
    assert "3 attempts" in message
    assert "HTTP 503" in message
    assert elapsed >= 0.05 + 0.1  # exponential backoff: 0.05 s, then 0.1 s


def test_timeout_is_retried_then_reported(api):
    base, server = api
    with pytest.raises(SourceError) as err:
        fetch_products(f"{base}/slow", timeout=0.2, retries=1, backoff=0.01)
    assert server.hits["slow"] == 2
    assert "2 attempts" in str(err.value)
    assert "timed out after 0.2s" in str(err.value)


def test_connection_refused_is_retried_then_reported():
    server = _Server()  # bound, then closed: nothing listens on the port any more
    port = server.server_address[1]
    server.server_close()
    with pytest.raises(SourceError) as err:
        fetch_products(f"http://127.0.0.1:{port}", retries=1, backoff=0.01)
    assert "2 attempts" in str(err.value)
    assert "connection error" in str(err.value)


def test_client_errors_are_not_retried(api):
    base, server = api
    with pytest.raises(SourceError, match="HTTP 404"):
        fetch_products(f"{base}/unknown", retries=3, backoff=0.01)
    assert server.hits["unknown"] == 1


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("malformed", "malformed JSON"),
        ("not-a-list", "returned a JSON dict, expected a list"),
        ("missing-field", "product at index 2 (id 3) is missing required field 'rating.count'"),
        ("missing-title", "product at index 4 (id 5) is missing required field 'title'"),
        ("wrong-type", "product at index 6 (id 7) field 'price' is str '9.99', expected int or float"),
        ("bool-id", "product at index 0 field 'id' is bool True, expected int"),
        ("not-an-object", "product at index 1 is a JSON str, expected an object"),
        ("duplicate-id", "product at index 5 repeats id 1 (first seen at index 0)"),
    ],
)
def test_invalid_bodies_name_url_product_and_field(api, mode, expected):
    base, server = api
    with pytest.raises(SourceError) as err:
        fetch_products(f"{base}/{mode}", retries=3, backoff=0.01)
    assert expected in str(err.value)
    assert f"{base}/{mode}/products" in str(err.value)
    assert server.hits[mode] == 1  # a bad body is not a transient failure


def test_uses_the_given_session(api):
    base, _ = api
    with requests.Session() as session:
        session.headers["X-Test"] = "1"
        assert len(fetch_products(f"{base}/ok", session=session)) == 20


def test_negative_retries_rejected():
    with pytest.raises(ValueError, match="retries"):
        fetch_products("http://127.0.0.1:9", retries=-1)


def test_stack_api_serves_the_catalog(stack):
    rows = fetch_products(stack.fakestore_api_url)
    assert [r["product_id"] for r in rows] == list(range(1, 21))
    assert [r["title"] for r in rows] == [p["title"] for p in CATALOG]
    assert sum(r["title"].endswith(" ") for r in rows) >= 1
