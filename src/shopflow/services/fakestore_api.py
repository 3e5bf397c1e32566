"""A FakeStore-compatible HTTP API serving the real 20-product catalog shipped with the package.

Endpoints as fakestoreapi.com has them: `/products` (with `limit` and `sort=asc|desc`),
`/products/{id}`, `/products/categories`, `/products/category/{name}`. Unknown ids answer 404.
Run it with `shopflow services api` (foreground) or let `shopflow services up` start it.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote, urlsplit

from shopflow.services.process import (
    PidFileService,
    PortSpec,
    ServiceError,
    ensure_ports_free,
    port_accepts,
    spawn,
)


@cache
def catalog() -> tuple[dict, ...]:
    """The shipped FakeStore catalog, exactly as the public API returns it."""
    text = resources.files("shopflow.data").joinpath("fakestore-products.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


class BadRequest(ValueError):
    pass


def _apply_query(products: list[dict], query: dict[str, list[str]]) -> list[dict]:
    sort = query.get("sort", ["asc"])[-1]
    if sort not in ("asc", "desc"):
        raise BadRequest(f"sort must be 'asc' or 'desc', got {sort!r}")
    products = sorted(products, key=lambda p: p["id"], reverse=sort == "desc")
    if "limit" in query:
        raw = query["limit"][-1]
        if not raw.isdigit():
            raise BadRequest(f"limit must be a non-negative integer, got {raw!r}")
        products = products[: int(raw)]
    return products


def route(path: str, query: dict[str, list[str]]) -> tuple[int, object]:
    """Answer one GET request: (status, JSON body)."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    items = list(catalog())
    if parts == ["products"]:
        return 200, _apply_query(items, query)
    if parts == ["products", "categories"]:
        return 200, sorted({p["category"] for p in items})
    if len(parts) == 3 and parts[:2] == ["products", "category"]:
        return 200, _apply_query([p for p in items if p["category"] == parts[2]], query)
    if len(parts) == 2 and parts[0] == "products":
        if parts[1].isdigit():
            for product in items:
                if product["id"] == int(parts[1]):
                    return 200, product
        return 404, {"error": f"product {parts[1]!r} not found"}
    return 404, {"error": f"no route for {path!r}"}


class FakeStoreHandler(BaseHTTPRequestHandler):
    server_version = "shopflow-fakestore/1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        try:
            status, body = route(url.path, parse_qs(url.query))
        except BadRequest as err:
            status, body = 400, {"error": str(err)}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def serve(host: str, port: int) -> None:
    """Serve the API in the foreground until interrupted."""
    httpd = ThreadingHTTPServer((host, port), FakeStoreHandler)
    print(f"FakeStore-compatible API on http://{host}:{port} ({len(catalog())} products)", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


class EmbeddedFakeStoreApi(PidFileService):
    name = "api"
    marker = "shopflow.services.fakestore_api"
    startup_timeout = 20.0

    def _ready(self) -> bool:
        return port_accepts(self.settings.host, self.settings.api_port)

    def _launch(self) -> None:
        ensure_ports_free("api", self.settings.host, [PortSpec(self.settings.api_port, "SHOPFLOW_API_PORT")])
        spawn(
            [sys.executable, "-m", "shopflow.services.fakestore_api", self.settings.host, str(self.settings.api_port)],
            log=self.log,
            pidfile=self.pidfile,
        )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m shopflow.services.fakestore_api HOST PORT")
    try:
        serve(sys.argv[1], int(sys.argv[2]))
    except OSError as err:
        raise ServiceError(f"api: cannot listen on {sys.argv[1]}:{sys.argv[2]}: {err}") from err
