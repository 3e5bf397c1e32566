"""A FakeStore-compatible HTTP API serving the real 20-product catalog shipped with the package.

Endpoints as fakestoreapi.com has them: `/products` (with `limit` and `sort=asc|desc`),
`/products/{id}`, `/products/categories`, `/products/category/{name}`. Unknown ids answer 404, bad
query values 400; every error body is `{"error": "<what was wrong>"}`. A FastAPI app served by
uvicorn, so it publishes its OpenAPI document at `/openapi.json` (tests/test_fakestore_api.py tests
the API against it). Run it with `shopflow services api` (foreground) or let `shopflow services up`
start it.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import uvicorn
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from shopflow.services.process import PidFileService, PortSpec, ensure_ports_free, port_accepts, spawn

PORT_VARIABLE = "SHOPFLOW_API_PORT"


@cache
def catalog() -> tuple[dict, ...]:
    """The shipped FakeStore catalog, exactly as the public API returns it."""
    text = resources.files("shopflow.data").joinpath("fakestore-products.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


# --- the documented shapes (the OpenAPI document's schemas) ----------------------------------------------
class Rating(BaseModel):
    rate: float
    count: int


class Product(BaseModel):
    id: int
    title: str
    price: float
    description: str
    category: str
    image: str
    rating: Rating


class ErrorBody(BaseModel):
    error: str


# What each query parameter accepts, as the 400 answer words it.
_EXPECTED = {"sort": "'asc' or 'desc'", "limit": "a non-negative integer"}
Sort = Annotated[Literal["asc", "desc"], Query(description="Order by id.")]

# An integer as JSON Schema defines it, which the published document promises: "20.0" is 20 too.
Limit = Annotated[int | None, Query(ge=0, description="Answer at most this many products.")]
_BAD_QUERY: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A query parameter has a value it does not accept."}
}

app = FastAPI(
    title="shopflow FakeStore-compatible API",
    version="1",
    description="The FakeStore product catalog shipped with shopflow, served read-only.",
    # Swagger UI and ReDoc load their scripts from a CDN; the machine-readable document is enough.
    docs_url=None,
    redoc_url=None,
    # "default" documents every other error's body; it also stands in for FastAPI's 422 entry, which
    # this API never answers (bad input is a 400, see _bad_request).
    responses={"default": {"model": ErrorBody, "description": "An error; `error` says what was wrong."}},
)


def _listing(products: list[dict], sort: str, limit: int | None) -> JSONResponse:
    ordered = sorted(products, key=lambda p: p["id"], reverse=sort == "desc")
    return JSONResponse(ordered if limit is None else ordered[:limit])


# Handlers return the catalog's dicts as stored (a price of 695 stays an integer, as upstream has it);
# the response models document them, and the API test checks every answer against that document.
@app.get("/products", response_model=list[Product], responses=_BAD_QUERY)
def products(sort: Sort = "asc", limit: Limit = None) -> Any:
    """Every product."""
    return _listing(list(catalog()), sort, limit)


@app.get("/products/categories", response_model=list[str])
def categories() -> Any:
    """The category names, sorted."""
    return JSONResponse(sorted({p["category"] for p in catalog()}))


@app.get("/products/category/{name}", response_model=list[Product], responses=_BAD_QUERY)
def products_in_category(
    name: Annotated[str, Path(description="A category, as /products/categories lists them.", examples=["jewelery"])],
    sort: Sort = "asc",
    limit: Limit = None,
) -> Any:
    """The products of one category (none for an unknown category)."""
    return _listing([p for p in catalog() if p["category"] == name], sort, limit)


@app.get(
    "/products/{product_id}",
    response_model=Product,
    responses={404: {"model": ErrorBody, "description": "No product has this id."}},
)
def product(product_id: Annotated[str, Path(description="A catalog id, 1 to 20.", examples=["1", "20"])]) -> Any:
    """One product. The id is a path segment: anything that is not a catalog id answers 404."""
    if product_id.isascii() and product_id.isdigit():
        for item in catalog():
            if item["id"] == int(product_id):
                return JSONResponse(item)
    return JSONResponse({"error": f"product {product_id!r} not found"}, status_code=404)


@app.exception_handler(RequestValidationError)
async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A bad query value answers 400 naming the parameter, what it accepts and what it got."""
    problems = []
    for error in exc.errors():
        name = str(error["loc"][-1])
        expected = _EXPECTED.get(name)
        problems.append(f"{name} must be {expected}, got {error['input']!r}" if expected else f"{name}: {error['msg']}")
    return JSONResponse({"error": "; ".join(problems)}, status_code=400)


@app.exception_handler(HTTPException)
async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    """Routing errors in the API's own error shape: an unknown path, a method other than GET."""
    path = request.url.path
    if exc.status_code == 404:
        message = f"no route for {path!r}"
    elif exc.status_code == 405:
        message = f"method {request.method} not allowed on {path!r}; this API answers GET only"
    else:
        message = str(exc.detail)
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


class _IgnoreTrailingSlash:
    """`/products/` answers as `/products` does, rather than with a redirect to it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and len(scope["path"]) > 1 and scope["path"].endswith("/"):
            scope = {**scope, "path": scope["path"].rstrip("/") or "/"}
        await self.app(scope, receive, send)


app.add_middleware(_IgnoreTrailingSlash)


def serve(host: str, port: int) -> None:
    """Serve the API in the foreground until interrupted (Ctrl-C or SIGTERM)."""
    ensure_ports_free("api", host, [PortSpec(port, PORT_VARIABLE)])
    print(f"FakeStore-compatible API on http://{host}:{port} ({len(catalog())} products)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info")


class EmbeddedFakeStoreApi(PidFileService):
    name = "api"
    marker = "shopflow.services.fakestore_api"
    startup_timeout = 20.0

    def _ready(self) -> bool:
        return port_accepts(self.settings.host, self.settings.api_port)

    def _launch(self) -> None:
        ensure_ports_free("api", self.settings.host, [PortSpec(self.settings.api_port, PORT_VARIABLE)])
        spawn(
            [sys.executable, "-m", "shopflow.services.fakestore_api", self.settings.host, str(self.settings.api_port)],
            log=self.log,
            pidfile=self.pidfile,
        )


if __name__ == "__main__":
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        raise SystemExit("usage: python -m shopflow.services.fakestore_api HOST PORT (PORT a number)")
    serve(sys.argv[1], int(sys.argv[2]))
