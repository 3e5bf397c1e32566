"""Client for a FakeStore-shaped product API: fetch the catalog, validate it, flatten it to the contract."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

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


def _is_retryable_status(status: int) -> bool:
    return 500 <= status <= 599


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
    http = session if session is not None else requests.Session()
    attempts = retries + 1
    last_error = ""
    try:
        for attempt in range(1, attempts + 1):
            try:
                response = http.get(url, timeout=timeout, headers={"Accept": "application/json"})
            except requests.Timeout as exc:
                last_error = f"timed out after {timeout:g}s ({type(exc).__name__})"
            except requests.ConnectionError as exc:
                last_error = f"connection error: {exc}"
            else:
                if _is_retryable_status(response.status_code):
                    last_error = f"HTTP {response.status_code} {response.reason}"
                elif response.status_code != 200:
                    # A 4xx will not heal by retrying: the URL or the request is wrong.
                    raise SourceError(
                        f"GET {url} answered HTTP {response.status_code} {response.reason}; "
                        "check the FakeStore API base URL"
                    )
                else:
                    return parse_products(response.content, url)
            if attempt < attempts:
                time.sleep(backoff * 2 ** (attempt - 1))
    finally:
        if session is None:
            http.close()
    raise SourceError(f"GET {url} failed after {attempts} attempts; last error: {last_error}")


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
