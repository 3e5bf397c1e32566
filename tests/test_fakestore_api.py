"""The local FakeStore API in process: its OpenAPI document, tested property by property, and its answers.

Schemathesis reads the document the app publishes and sends each operation generated requests, valid
and invalid, checking every answer against the document: no 5xx, documented status codes, content
types and bodies, 4xx for invalid input. The tests below it pin the behaviour the document cannot
state (the wording of errors, the ordering, the catalog served as stored).
"""

from __future__ import annotations

import json
import socket
from importlib import resources

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from shopflow.services.fakestore_api import app, serve
from shopflow.services.process import ServiceError

CATALOG = json.loads(resources.files("shopflow.data").joinpath("fakestore-products.json").read_text("utf-8"))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
client = TestClient(app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_published_openapi_document(case):
    case.call_and_validate()


def test_the_document_describes_the_four_routes_and_the_error_body():
    document = client.get("/openapi.json").json()
    assert set(document["paths"]) == {
        "/products",
        "/products/categories",
        "/products/category/{name}",
        "/products/{product_id}",
    }
    assert document["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    # Bad input is a 400 here, never FastAPI's default 422.
    assert all("422" not in op["responses"] for path in document["paths"].values() for op in path.values())


def test_the_catalog_is_served_as_stored():
    assert client.get("/products").json() == CATALOG
    assert client.get("/products/5").text == json.dumps(CATALOG[4], ensure_ascii=False, separators=(",", ":"))
    assert client.get("/products/5").json()["price"] == 695  # an integer price stays an integer
    assert client.get("/products/07").json()["id"] == 7
    assert client.get("/products/").json() == CATALOG  # a trailing slash answers, not redirects


def test_sort_limit_and_category():
    assert [p["id"] for p in client.get("/products", params={"sort": "desc", "limit": 3}).json()] == [20, 19, 18]
    assert client.get("/products", params={"limit": 0}).json() == []
    assert client.get("/products", params=[("limit", "1"), ("limit", "2")]).json() == CATALOG[:2]  # the last wins
    mens = client.get("/products/category/men's clothing", params={"sort": "desc"}).json()
    assert [p["id"] for p in mens] == [4, 3, 2, 1]
    assert client.get("/products/category/toys").json() == []


@pytest.mark.parametrize(
    ("path", "params", "status", "error"),
    [
        ("/products", {"sort": "sideways"}, 400, "sort must be 'asc' or 'desc', got 'sideways'"),
        ("/products", {"limit": "-1"}, 400, "limit must be a non-negative integer, got '-1'"),
        ("/products", {"limit": "5.5"}, 400, "limit must be a non-negative integer, got '5.5'"),
        ("/products", {"limit": "²"}, 400, "limit must be a non-negative integer, got '²'"),
        (
            "/products/category/jewelery",
            {"sort": "up", "limit": "x"},
            400,
            "sort must be 'asc' or 'desc', got 'up'; limit must be a non-negative integer, got 'x'",
        ),
        ("/products/999", {}, 404, "product '999' not found"),
        ("/products/abc", {}, 404, "product 'abc' not found"),
        ("/orders", {}, 404, "no route for '/orders'"),
    ],
)
def test_errors_name_what_was_wrong(path, params, status, error):
    response = client.get(path, params=params)
    assert response.status_code == status
    assert response.json() == {"error": error}


def test_other_methods_are_refused_with_the_allowed_one():
    response = client.post("/products", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json() == {"error": "method POST not allowed on '/products'; this API answers GET only"}


def test_serving_on_a_busy_port_names_the_port_and_its_variable():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        with pytest.raises(ServiceError, match=f"port 127.0.0.1:{busy} is already in use.*SHOPFLOW_API_PORT"):
            serve("127.0.0.1", busy)
