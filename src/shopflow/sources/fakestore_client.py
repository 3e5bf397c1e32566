"""Client for a FakeStore-shaped product API: fetch the catalog, validate it, flatten it to the contract."""

from __future__ import annotations

import json
from typing import Any

import requests
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shopflow.contracts import PRODUCTS
from shopflow.sources import SourceError

# Fields every product must carry, with the JSON types accepted for each (bool is excluded below,
# because json gives True/False for `true`/`false` and bool is a subclass of int in Python).
_REQUIRED_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("id", (int,)),
    ("title", (str,)),
    ("price", (int, float)),
    ("description", (str,)),
    ("category", (str,)),
    ("image", (str,)),
    ("rating.rate", (int, float)),
    ("rating.count", (int,)),
)

PRODUCT_COLUMNS: tuple[str, ...] = tuple(PRODUCTS.data_column_names)


class _Transient(Exception):
    """A failure that may heal on its own (5xx, timeout, refused connection): worth another attempt."""


def _get(http: requests.Session, url: str, timeout: float) -> requests.Response:
    """One GET; raise _Transient for what a retry may fix, SourceError for what it cannot."""
    try:
        response = http.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.Timeout as exc:
        raise _Transient(f"timed out after {timeout:g}s ({type(exc).__name__})") from exc
    except requests.ConnectionError as exc:
        raise _Transient(f"connection error: {exc}") from exc
    if 500 <= response.status_code <= 599:
        raise _Transient(f"HTTP {response.status_code} {response.reason}")
    if response.status_code != 200:
        # A 4xx will not heal by retrying: the URL or the request is wrong.
        raise SourceError(
            f"GET {url} answered HTTP {response.status_code} {response.reason}; check the FakeStore API base URL"
        )
    return response


def fetch_products(
    base_url: str,
    *,
    timeout: float = 10,
    retries: int = 3,
    backoff: float = 0.5,
    session: requests.Session | None = None,
) -> list[dict[str, Any]]:
    """GET `{base_url}/products`, retrying 5xx/timeouts/connection errors, and return contract rows.

    `retries` is the number of retries after the first attempt; the wait before retry n is
    `backoff * 2**(n-1)` seconds. Raises SourceError naming the URL and what went wrong.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    url = base_url.rstrip("/") + "/products"
    # tenacity rather than urllib3's Retry on the session: the caller's session is left as it is, the
    # first retry waits too (urllib3 skips that wait), and the error below names the last failure.
    retrying = Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=backoff),  # backoff, 2 * backoff, 4 * backoff ...
        retry=retry_if_exception_type(_Transient),
    )
    http = session if session is not None else requests.Session()
    try:
        response = retrying(_get, http, url, timeout)
    except RetryError as exc:
        raise SourceError(
            f"GET {url} failed after {retries + 1} attempts; last error: {exc.last_attempt.exception()}"
        ) from None
    finally:
        if session is None:
            http.close()
    return parse_products(response.content, url)


def parse_products(body: bytes | str, url: str) -> list[dict[str, Any]]:
    """Validate a `/products` response body and flatten it to rows with the PRODUCTS contract columns."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"GET {url} returned malformed JSON: {exc}") from None
    if not isinstance(payload, list):
        raise SourceError(f"GET {url} returned a JSON {type(payload).__name__}, expected a list of products")
    rows: list[dict[str, Any]] = []
    seen_ids: dict[int, int] = {}
    for index, product in enumerate(payload):
        row = _flatten_product(product, index, url)
        if row["product_id"] in seen_ids:
            raise SourceError(
                f"GET {url}: product at index {index} repeats id {row['product_id']} "
                f"(first seen at index {seen_ids[row['product_id']]})"
            )
        seen_ids[row["product_id"]] = index
        rows.append(row)
    return rows


def _flatten_product(product: Any, index: int, url: str) -> dict[str, Any]:
    if not isinstance(product, dict):
        raise SourceError(f"GET {url}: product at index {index} is a JSON {type(product).__name__}, expected an object")
    where = f"product at index {index}"
    if isinstance(product.get("id"), int) and not isinstance(product.get("id"), bool):
        where += f" (id {product['id']})"
    values: dict[str, Any] = {}
    for field, types in _REQUIRED_FIELDS:
        value: Any = product
        for part in field.split("."):
            if not isinstance(value, dict) or part not in value:
                raise SourceError(f"GET {url}: {where} is missing required field {field!r}")
            value = value[part]
        if isinstance(value, bool) or not isinstance(value, types):
            expected = " or ".join(t.__name__ for t in types)
            raise SourceError(
                f"GET {url}: {where} field {field!r} is {type(value).__name__} {value!r}, expected {expected}"
            )
        values[field] = value
    if values["price"] < 0:
        raise SourceError(f"GET {url}: {where} field 'price' is negative ({values['price']})")
    if values["id"] <= 0:
        raise SourceError(f"GET {url}: {where} field 'id' must be a positive integer")
    return {
        "product_id": values["id"],
        # Titles are kept byte for byte: some upstream titles end with a space.
        "title": values["title"],
        "price": float(values["price"]),
        "description": values["description"],
        "category": values["category"],
        "image": values["image"],
        "rating_rate": float(values["rating.rate"]),
        "rating_count": values["rating.count"],
    }
