"""Provision the dashboards into Metabase through its REST API, idempotently.

Every call was checked against Metabase's own source (github.com/metabase/metabase, the
`api.macros/defendpoint` definitions of the 0.57+ tree the pinned image v0.62.6 belongs to): the
file that defines each endpoint is named next to the call, paths relative to that repository. No
Metabase server runs where this is built: the code is tested against `tests/metabase_double.py`, a
strict local double of the same endpoints (docs/dashboards.md lists what is and is not verified).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests

from shopflow.config import (
    DEFAULT_METABASE_COLLECTION,
    DEFAULT_METABASE_DATABASE_NAME,
    DEFAULT_METABASE_READY_TIMEOUT,
    MetabaseSettings,
    variable_name,
)
from shopflow.dashboards.definitions import (
    DEFAULT_ROOT,
    Card,
    Column,
    Dashboard,
    ValueColors,
    all_cards,
    load_dashboards,
)
from shopflow.errors import ShopflowError

DEFAULT_SITE_NAME = "Shopflow"
# src/metabase/server/middleware/session.clj reads the session id from this header.
SESSION_HEADER = "X-Metabase-Session"

# Card `display` per YAML visualization. Metabase's pie chart is drawn as a donut, so both map to
# "pie"; a bubble chart is Metabase's scatter with a bubble-size column.
DISPLAY = {
    "scalar": "scalar",
    "line": "line",
    "bar": "bar",
    "row": "row",
    "pie": "pie",
    "donut": "pie",
    "table": "table",
    "bubble": "scatter",
    "funnel": "funnel",
}


class MetabaseError(ShopflowError, RuntimeError):
    """Provisioning failed; the message names the Metabase URL and what to do."""


class MetabaseUnreachable(MetabaseError):
    """No HTTP answer from the Metabase URL, or it never became ready."""


class MetabaseAuthError(MetabaseError):
    """Metabase rejected the admin login (wrong e-mail or password, or throttled)."""


class MetabaseAPIError(MetabaseError):
    """Metabase answered a request with an unexpected status."""

    def __init__(self, message: str, status: int, body: Any):
        super().__init__(message)
        self.status = status
        self.body = body


@dataclass(frozen=True)
class WarehouseConnection:
    """How Metabase reaches the warehouse (as Metabase sees the network; use the read-only role)."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)
    ssl: bool = False

    def details(self) -> dict[str, Any]:
        """The `details` object of POST /api/database (the postgres driver's connection properties)."""
        return {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "password": self.password,
            "ssl": self.ssl,
        }


@dataclass(frozen=True)
class Outcome:
    """What provisioning did to one Metabase object."""

    kind: str  # database | collection | card | dashboard
    name: str
    id: int
    action: str  # created | updated | unchanged
    url: str | None = None


@dataclass
class ProvisionReport:
    """Everything `provision` created, updated or left unchanged, plus the dashboard URLs."""

    metabase_url: str
    setup_performed: bool
    database: Outcome
    collection: Outcome
    cards: list[Outcome] = field(default_factory=list)
    dashboards: list[Outcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def count(self, kind: str, action: str) -> int:
        """How many objects of `kind` got `action`."""
        objects = {
            "database": [self.database],
            "collection": [self.collection],
            "card": self.cards,
            "dashboard": self.dashboards,
        }[kind]
        return sum(1 for o in objects if o.action == action)

    def summary(self) -> str:
        """A few human-readable lines: counts per action and every dashboard URL."""
        lines = [
            f"Metabase {self.metabase_url}" + (" (first-run setup done)" if self.setup_performed else ""),
            f"database {self.database.name!r} id {self.database.id}: {self.database.action}",
            f"collection {self.collection.name!r} id {self.collection.id}: {self.collection.action}",
        ]
        for kind in ("card", "dashboard"):
            counts = ", ".join(f"{self.count(kind, a)} {a}" for a in ("created", "updated", "unchanged"))
            lines.append(f"{kind}s: {counts}")
        lines.extend(f"{d.name}: {d.url}" for d in self.dashboards)
        lines.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(lines)


class MetabaseClient:
    """A small requests-based client that turns Metabase's error answers into clear exceptions."""

    def __init__(self, base_url: str, *, timeout: float = 30.0, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()
        self.token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Any = None,
        auth: bool = True,
        ok: tuple[int, ...] = (200,),
    ) -> Any:
        """Send one API request and return the decoded JSON (raise MetabaseError otherwise)."""
        headers = {"Accept": "application/json"}
        if auth:
            if self.token is None:
                raise MetabaseError(f"{method} {path}: not logged in to Metabase at {self.base_url}")
            headers[SESSION_HEADER] = self.token
        url = f"{self.base_url}{path}"
        try:
            response = self.http.request(method, url, json=body, params=params, headers=headers, timeout=self.timeout)
        except requests.ConnectionError as exc:
            raise MetabaseUnreachable(
                f"cannot reach Metabase at {self.base_url} ({method} {path}): {exc.__class__.__name__}. "
                "Is Metabase running and is METABASE_URL right?"
            ) from exc
        except requests.Timeout as exc:
            raise MetabaseUnreachable(
                f"Metabase at {self.base_url} did not answer {method} {path} within {self.timeout:g} s"
            ) from exc
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        if response.status_code not in ok:
            raise MetabaseAPIError(
                f"Metabase at {self.base_url} answered {method} {path} with HTTP "
                f"{response.status_code}: {_describe(payload)}",
                response.status_code,
                payload,
            )
        return payload


def _describe(payload: Any) -> str:
    """A short text for an error body: the per-field `errors` of a schema failure first."""
    if isinstance(payload, dict):
        if isinstance(payload.get("errors"), dict):
            return "; ".join(f"{k}: {v}" for k, v in payload["errors"].items())
        if payload.get("message"):
            return str(payload["message"])
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return text.strip()[:500] or "(empty body)"


# --- mapping of the YAML definitions to Metabase payloads ------------------------------------------
# Setting keys are those the frontend reads (frontend/src/metabase/visualizations/): result columns are
# referred to by NAME, as Metabase does for native questions.


def column_key(name: str) -> str:
    """Metabase's key for a result column in column_settings / tooltip settings: ["name","COL"]."""
    # frontend/src/metabase/visualizations/lib/settings/column.ts keys column_settings this way.
    return json.dumps(["name", name], separators=(",", ":"))


def _column_settings(column: Column) -> dict[str, Any]:
    settings: dict[str, Any] = {"column_title": column.label}
    decimals = column.decimals
    if column.format == "currency":
        settings.update(number_style="currency", currency="USD", currency_style="symbol")
        settings["decimals"] = 2 if decimals is None else decimals
    elif column.format == "percent":
        # Metabase's percent style multiplies by 100, matching the YAML's fractions.
        settings["number_style"] = "percent"
        settings["decimals"] = 1 if decimals is None else decimals
    elif column.format == "number":
        settings["number_style"] = "decimal"
        settings["decimals"] = 0 if decimals is None else decimals
    elif column.format == "date":
        if column.date_unit == "month":
            settings.update(date_style="MMMM D, YYYY", date_abbreviate=True)
        else:
            settings.update(date_style="YYYY/M/D", date_separator="-")
        settings["time_enabled"] = None
    return settings


def _pie_rows(value_colors: ValueColors) -> list[dict[str, Any]]:
    """`pie.rows` for slices whose order and colour the YAML fixes (value_colors, in YAML order)."""
    # frontend/src/metabase/visualizations/shared/settings/pie.ts (getPieRows): with
    # `pie.sort_rows` false, saved rows keep their order and colour; values not listed are appended
    # sorted by size. A row's key is the dimension value as a string.
    return [
        {
            "key": value,
            "name": value,
            "originalName": value,
            "color": color,
            "defaultColor": False,
            "enabled": True,
            "hidden": False,
            "isOther": False,
        }
        for value, color in value_colors.colors.items()
    ]


def visualization_settings(card: Card) -> dict[str, Any]:
    """The card's visualization_settings, keyed by result column names."""
    vs: dict[str, Any] = {"column_settings": {column_key(c.name): _column_settings(c) for c in card.columns}}
    viz = card.visualization
    if viz == "scalar":
        # frontend/src/metabase/visualizations/visualizations/Scalar/: `scalar.field`. The Trend
        # display (smartscalar) reads the date and value columns from the query's result itself.
        vs["scalar.field"] = card.value
        if card.trend is not None:
            vs["graph.dimensions"] = [card.trend.period]
            vs["graph.metrics"] = [card.value]
    elif viz in ("line", "bar", "row"):
        # frontend/src/metabase/visualizations/shared/settings/cartesian-chart.ts and series.ts
        dim = card.column(card.dimension)
        vs["graph.dimensions"] = [dim.name]
        vs["graph.metrics"] = list(card.metrics)
        vs["graph.x_axis.title_text"] = card.x_label
        vs["graph.y_axis.title_text"] = card.y_label
        vs["graph.x_axis.scale"] = "timeseries" if dim.format == "date" else "ordinal"
        vs["graph.show_values"] = False
        vs["series_settings"] = {
            name: {"title": card.column(name).label}
            | ({"color": card.column(name).color} if card.column(name).color else {})
            for name in card.metrics
        }
    elif viz in ("pie", "donut"):
        # frontend/src/metabase/visualizations/shared/settings/pie.ts: `pie.colors` is legacy (read,
        # never written); slices are sorted by size unless `pie.sort_rows` is false, and then the
        # order and colours come from `pie.rows`.
        vs["pie.dimension"] = card.dimension
        vs["pie.metric"] = card.metrics[0]
        vs["pie.show_legend"] = True
        vs["pie.show_total"] = True
        vs["pie.percent_visibility"] = "inside"
        if card.value_colors is not None:
            vs["pie.sort_rows"] = False
            vs["pie.rows"] = _pie_rows(card.value_colors)
        else:
            vs["pie.sort_rows"] = True
    elif viz == "funnel":
        # frontend/src/metabase/visualizations/visualizations/Funnel/: funnel.dimension / funnel.metric
        vs["funnel.dimension"] = card.dimension
        vs["funnel.metric"] = card.metrics[0]
    elif viz == "bubble":
        # shared/settings/cartesian-chart.ts (as above): a scatter's x is graph.dimensions, its y
        # graph.metrics and its bubble size scatter.bubble.
        vs["graph.dimensions"] = [card.x]
        vs["graph.metrics"] = [card.y]
        vs["scatter.bubble"] = card.size
        vs["graph.x_axis.title_text"] = card.x_label
        vs["graph.y_axis.title_text"] = card.y_label
        vs["graph.x_axis.scale"] = "linear"
        # Extra tooltip columns are stored as column keys, as Metabase's own frontend does.
        vs["graph.tooltip_columns"] = [column_key(n) for n in (card.column(card.label).name, *card.tooltip)]
    elif viz == "table":
        # frontend/src/metabase/visualizations/visualizations/Table/: table.columns and
        # table.column_formatting rules ("single" colour when the value equals).
        vs["table.columns"] = [{"name": c.name, "enabled": True} for c in card.columns]
        if card.value_colors is not None:
            vs["table.column_formatting"] = [
                {
                    "columns": [card.value_colors.column],
                    "type": "single",
                    "operator": "=",
                    "value": value,
                    "color": color,
                    "highlight_row": False,
                }
                for value, color in card.value_colors.colors.items()
            ]
    return vs


def display_of(card: Card) -> str:
    """Metabase's `display` for a card; a scalar with a trend is Metabase's "smartscalar" (Trend)."""
    if card.visualization == "scalar" and card.trend is not None:
        return "smartscalar"
    return DISPLAY[card.visualization]


def check_definitions(dashboards: list[Dashboard]) -> None:
    """Refuse, before any request, what Metabase would reject part-way through provisioning."""
    # src/metabase/queries/api/card.clj, CardCreateSchema: `description` is [:maybe NonBlankString].
    blank = [str(card.yml_path) for card in all_cards(dashboards) if not card.description.strip()]
    if blank:
        raise MetabaseError(
            "Metabase rejects a blank card description; give these cards a description: " + ", ".join(blank)
        )


def card_payload(card: Card, database_id: int, collection_id: int) -> dict[str, Any]:
    """POST/PUT /api/card body: a native SQL question in the legacy query form."""
    # src/metabase/queries/api/card.clj, CardCreateSchema / CardUpdateSchema: every key here is
    # declared there. The server normalises the legacy native query (lib-be/normalize-query).
    return {
        "name": card.title,
        "description": card.description,
        "type": "question",
        "display": display_of(card),
        "collection_id": collection_id,
        "dataset_query": {
            "type": "native",
            "native": {"query": card.sql, "template-tags": {}},
            "database": database_id,
        },
        "visualization_settings": visualization_settings(card),
    }


def native_sql(dataset_query: Mapping[str, Any]) -> tuple[str | None, Any]:
    """(SQL, database id) of a card's dataset_query in either the legacy or the MBQL 5 shape."""
    # From 0.57 cards are stored and returned as MBQL 5 ("stages"): compare both shapes.
    if isinstance(dataset_query.get("native"), Mapping):
        return dataset_query["native"].get("query"), dataset_query.get("database")
    stages = dataset_query.get("stages")
    if isinstance(stages, list) and stages and isinstance(stages[0], Mapping):
        return stages[0].get("native"), dataset_query.get("database")
    return None, dataset_query.get("database")


def card_differs(existing: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    """True when the stored card differs from the payload in anything provisioning manages."""
    if native_sql(existing.get("dataset_query") or {}) != native_sql(payload["dataset_query"]):
        return True
    keys = ("name", "description", "display", "collection_id", "visualization_settings")
    return any(existing.get(k) != payload[k] for k in keys) or bool(existing.get("archived"))


# --- provisioning ----------------------------------------------------------------------------------


def wait_until_ready(
    client: MetabaseClient,
    timeout: float = DEFAULT_METABASE_READY_TIMEOUT,
    *,
    interval: float = 2.0,
    clock: Any = time.monotonic,
    sleep: Any = time.sleep,
) -> None:
    """Poll GET /api/health until Metabase answers 200 {"status": "ok"}; give up after `timeout` s."""
    # src/metabase/server/routes.clj (health-handler): 503 {"status": "initializing", "progress": p}
    # while Metabase starts (every other /api route answers 503 too), 200 {"status": "ok"} when ready.
    deadline = clock() + timeout
    last = "no answer yet"
    while True:
        try:
            client.request("GET", "/api/health", auth=False)
            return
        except MetabaseUnreachable as exc:
            last = str(exc)
        except MetabaseAPIError as exc:
            if exc.status not in (502, 503, 504):
                raise
            last = f"HTTP {exc.status}: {_describe(exc.body)}"
        if clock() + interval > deadline:
            raise MetabaseUnreachable(
                f"Metabase at {client.base_url} was not ready after {timeout:g} s (GET /api/health; last: "
                f"{last}). Is it running, and is METABASE_URL right?"
            )
        sleep(interval)


def _setup_raced(exc: MetabaseAPIError) -> bool:
    """True when POST /api/setup failed because another process finished the setup first."""
    # src/metabase/setup/api.clj: the token is checked by the request schema BEFORE the handler's
    # "a user currently exists" 403, and a finished setup clears or replaces the token, so a setup
    # racing another one answers 400 {"errors": {"token": ...}} as often as 403.
    if exc.status == 403:
        return True
    errors = exc.body.get("errors") if isinstance(exc.body, dict) else None
    return exc.status == 400 and isinstance(errors, dict) and "token" in errors


def _login(client: MetabaseClient, email: str, password: str, site_name: str) -> bool:
    """Log in, doing the first-run setup when no user exists; return True when setup was done."""
    # src/metabase/session/api.clj, GET /api/session/properties (public settings): setup is done iff
    # `has-user-setup` is true; the `setup-token` is not a signal (versions differ in when they clear it).
    props = client.request("GET", "/api/session/properties", auth=False)
    if not isinstance(props, dict):
        raise MetabaseError(
            f"{client.base_url}/api/session/properties did not return a JSON object: is "
            "METABASE_URL pointing at Metabase?"
        )
    if not props.get("has-user-setup"):
        token = props.get("setup-token")
        if not token:
            raise MetabaseError(
                f"Metabase at {client.base_url} has no admin user yet but publishes no setup-token; "
                "finish its setup in the browser, then run provisioning again"
            )
        # src/metabase/setup/api.clj, POST /api/setup: token, user {email, password, first_name,
        # last_name}, prefs {site_name, site_locale}; answers {"id": <session id>}.
        body = {
            "token": token,
            "user": {"email": email, "password": password, "first_name": "Shopflow", "last_name": "Admin"},
            "prefs": {"site_name": site_name, "site_locale": "en"},
        }
        try:
            answer = client.request("POST", "/api/setup", body=body, auth=False)
        except MetabaseAPIError as exc:
            if not _setup_raced(exc):
                raise MetabaseError(
                    f"first-run setup of Metabase at {client.base_url} failed: {_describe(exc.body)}"
                ) from exc
        else:
            client.token = answer["id"]
            return True
    # src/metabase/session/api.clj, POST /api/session: {username, password} -> {"id": <session id>};
    # 401 with {"errors": {"password": ...}} (or {"username": "Too many attempts!..."} when throttled).
    try:
        answer = client.request("POST", "/api/session", body={"username": email, "password": password}, auth=False)
    except MetabaseAPIError as exc:
        if exc.status in (400, 401):
            raise MetabaseAuthError(
                f"Metabase at {client.base_url} rejected the login for {email}: {_describe(exc.body)}. "
                "Check METABASE_ADMIN_EMAIL and METABASE_ADMIN_PASSWORD."
            ) from exc
        raise
    client.token = answer["id"]
    return False


def _warehouse_refused(client: MetabaseClient, warehouse: WarehouseConnection, exc: MetabaseAPIError) -> MetabaseError:
    where = f"{warehouse.user}@{warehouse.host}:{warehouse.port}/{warehouse.dbname}"
    return MetabaseError(
        f"Metabase at {client.base_url} could not connect to the warehouse as {where}: "
        f"{_describe(exc.body)}. Metabase connects from its own network: check "
        "METABASE_DB_HOST/METABASE_DB_PORT and the read-only role's password."
    )


def _ensure_database(client: MetabaseClient, name: str, warehouse: WarehouseConnection) -> Outcome:
    # src/metabase/warehouses_rest/api.clj: GET /api/database answers {"data": [...], "total": N};
    # POST /api/database {name, engine, details} and PUT /api/database/:id test the connection
    # synchronously (PUT only when the details change) and answer 400 when it fails.
    body = {"name": name, "engine": "postgres", "details": warehouse.details()}
    listing = client.request("GET", "/api/database")
    databases = listing["data"] if isinstance(listing, dict) else listing
    match = next((d for d in databases if d.get("name") == name), None)
    try:
        if match is None:
            created = client.request("POST", "/api/database", body=body)
            return Outcome("database", name, created["id"], "created")
        client.request("PUT", f"/api/database/{match['id']}", body=body)
        # A warehouse rebuilt since the last run may have new tables: ask for a schema sync. The same
        # file's POST /api/database/:id/sync_schema tests the connection first and answers 422 when
        # Metabase cannot connect (the PUT above tests nothing when the details did not change).
        client.request("POST", f"/api/database/{match['id']}/sync_schema")
    except MetabaseAPIError as exc:
        if exc.status in (400, 422):
            raise _warehouse_refused(client, warehouse, exc) from exc
        raise
    return Outcome("database", name, match["id"], "updated")


def _ensure_collection(client: MetabaseClient, name: str) -> Outcome:
    # src/metabase/collections/api.clj: GET /api/collection is a bare array (the root first);
    # POST /api/collection {name, description, parent_id}.
    collections = client.request("GET", "/api/collection")
    for collection in collections:
        top_level = collection.get("location", "/") == "/"
        if collection.get("name") == name and top_level and not collection.get("archived"):
            return Outcome("collection", name, collection["id"], "unchanged")
    created = client.request(
        "POST",
        "/api/collection",
        body={"name": name, "description": "Provisioned by shopflow from metabase/ definitions."},
    )
    return Outcome("collection", name, created["id"], "created")


def _collection_items(client: MetabaseClient, collection_id: int, report: ProvisionReport) -> dict[str, dict[str, int]]:
    # src/metabase/collections/api.clj, GET /api/collection/:id/items?models=card&models=dashboard:
    # {"data": [{id, name, model, ...}], "total": N, ...}.
    answer = client.request(
        "GET",
        f"/api/collection/{collection_id}/items",
        params=[("models", "card"), ("models", "dashboard")],
    )
    items: dict[str, dict[str, int]] = {"card": {}, "dashboard": {}}
    for item in answer["data"]:
        by_name = items.get(item.get("model"))
        if by_name is None:
            continue
        if item["name"] in by_name:
            report.warnings.append(
                f"collection {collection_id} holds two {item['model']}s named {item['name']!r} "
                f"(ids {by_name[item['name']]} and {item['id']}); updating id {by_name[item['name']]}"
            )
            continue
        by_name[item["name"]] = item["id"]
    return items


def _ensure_card(
    client: MetabaseClient, card: Card, database_id: int, collection_id: int, existing_id: int | None
) -> Outcome:
    # src/metabase/queries/api/card.clj: POST /api/card (CardCreateSchema), GET /api/card/:id,
    # PUT /api/card/:id (CardUpdateSchema, which also declares `archived`).
    payload = card_payload(card, database_id, collection_id)
    if existing_id is None:
        created = client.request("POST", "/api/card", body=payload)
        return Outcome("card", card.title, created["id"], "created")
    current = client.request("GET", f"/api/card/{existing_id}")
    if not card_differs(current, payload):
        return Outcome("card", card.title, existing_id, "unchanged")
    client.request("PUT", f"/api/card/{existing_id}", body={**payload, "archived": False})
    return Outcome("card", card.title, existing_id, "updated")


def _dashcards(
    dashboard: Dashboard, card_ids: dict[str, int], current: list[dict[str, Any]], tab_id: Any
) -> list[dict[str, Any]]:
    # src/metabase/dashboards/api.clj (UpdatedDashboardCard): the list replaces every dashcard;
    # existing ones keep their id, new ones get unique negative ids, omitted ones are deleted.
    reusable: dict[int | None, list[int]] = {}
    for dashcard in current:
        reusable.setdefault(dashcard.get("card_id"), []).append(dashcard["id"])
    next_new = -1
    dashcards = []
    for item in dashboard.layout:
        card_id = card_ids[item.card.key]
        ids = reusable.get(card_id)
        if ids:
            dashcard_id = ids.pop(0)
        else:
            dashcard_id, next_new = next_new, next_new - 1
        dashcard = {
            "id": dashcard_id,
            "card_id": card_id,
            "row": item.row,
            "col": item.col,
            "size_x": item.size_x,
            "size_y": item.size_y,
            "visualization_settings": {},
            "parameter_mappings": [],
        }
        if tab_id is not None:
            dashcard["dashboard_tab_id"] = tab_id
        dashcards.append(dashcard)
    return dashcards


def _layout_of(dashcards: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (d.get("card_id"), d.get("row"), d.get("col"), d.get("size_x"), d.get("size_y"), d.get("dashboard_tab_id"))
        for d in dashcards
    )


def _ensure_dashboard(
    client: MetabaseClient,
    dashboard: Dashboard,
    card_ids: dict[str, int],
    collection_id: int,
    existing_id: int | None,
    public_url: str,
) -> Outcome:
    action = "updated"
    if existing_id is None:
        # src/metabase/dashboards/api.clj, POST /api/dashboard {name, description, collection_id}:
        # it cannot add cards.
        created = client.request(
            "POST",
            "/api/dashboard",
            body={
                "name": dashboard.title,
                "description": dashboard.description,
                "collection_id": collection_id,
            },
        )
        existing_id, action = created["id"], "created"
    current = client.request("GET", f"/api/dashboard/{existing_id}")
    current_cards = current.get("dashcards") or []
    # src/metabase/dashboards/api.clj (update-dashboard) and models/dashboard_tab.clj
    # (do-update-tabs!): a PUT with `dashcards` replaces the tabs with the `tabs` sent, an absent key
    # counting as none, so the dashboard's existing tabs are always sent back. On a dashboard with
    # tabs every dashcard needs a dashboard_tab_id (else 400): ours go on the first tab.
    tabs = [{"id": t["id"], "name": t["name"]} for t in sorted(current.get("tabs") or [], key=_tab_position)]
    tab_id = tabs[0]["id"] if tabs else None
    dashcards = _dashcards(dashboard, card_ids, current_cards, tab_id)
    unchanged = (
        action == "updated"
        and _layout_of(current_cards) == _layout_of(dashcards)
        and current.get("description") == dashboard.description
        and not current.get("archived")
    )
    if unchanged:
        action = "unchanged"
    else:
        # src/metabase/dashboards/api.clj, PUT /api/dashboard/:id (DashUpdates).
        client.request(
            "PUT",
            f"/api/dashboard/{existing_id}",
            body={
                "name": dashboard.title,
                "description": dashboard.description,
                "collection_id": collection_id,
                "archived": False,
                "dashcards": dashcards,
                "tabs": tabs,
            },
        )
    # Auto-refresh is not stored server-side: the frontend reads it from the URL fragment.
    url = f"{public_url}/dashboard/{existing_id}#refresh={dashboard.auto_refresh_seconds}"
    return Outcome("dashboard", dashboard.title, existing_id, action, url)


def _tab_position(tab: Mapping[str, Any]) -> tuple[int, int]:
    return (tab.get("position") or 0, tab["id"])


def provision(
    metabase_url: str,
    admin_email: str,
    admin_password: str,
    warehouse: WarehouseConnection,
    definitions: list[Dashboard] | Path | str = DEFAULT_ROOT,
    *,
    collection_name: str = DEFAULT_METABASE_COLLECTION,
    database_name: str = DEFAULT_METABASE_DATABASE_NAME,
    site_name: str = DEFAULT_SITE_NAME,
    timeout: float = 30.0,
    ready_timeout: float = DEFAULT_METABASE_READY_TIMEOUT,
    public_url: str | None = None,
) -> ProvisionReport:
    """Wait for Metabase, then create or update the warehouse database, collection, cards and dashboards.

    `public_url` is where people open Metabase when it differs from `metabase_url` (a container
    reaching it by service name); the report's URLs use it.
    """
    dashboards = definitions if isinstance(definitions, list) else load_dashboards(Path(definitions))
    if not admin_email or not admin_password:
        raise MetabaseError("set METABASE_ADMIN_EMAIL and METABASE_ADMIN_PASSWORD to provision Metabase")
    check_definitions(dashboards)
    client = MetabaseClient(metabase_url, timeout=timeout)
    wait_until_ready(client, ready_timeout)
    setup_performed = _login(client, admin_email, admin_password, site_name)
    database = _ensure_database(client, database_name, warehouse)
    collection = _ensure_collection(client, collection_name)
    shown_url = (public_url or client.base_url).rstrip("/")
    report = ProvisionReport(shown_url, setup_performed, database, collection)
    items = _collection_items(client, collection.id, report)
    card_ids: dict[str, int] = {}
    for card in all_cards(dashboards):
        outcome = _ensure_card(client, card, database.id, collection.id, items["card"].get(card.title))
        card_ids[card.key] = outcome.id
        report.cards.append(outcome)
    for dashboard in dashboards:
        report.dashboards.append(
            _ensure_dashboard(
                client, dashboard, card_ids, collection.id, items["dashboard"].get(dashboard.title), shown_url
            )
        )
    return report


# --- from the settings ---------------------------------------------------------------------------------


def _require(value: str | None, field: str, why: str) -> str:
    if not value:
        raise MetabaseError(f"{variable_name(MetabaseSettings, field)} is not set: {why}")
    return value


def warehouse_connection(metabase: MetabaseSettings, warehouse_dsn: str) -> WarehouseConnection:
    """Metabase's view of the warehouse: the METABASE_DB_* settings, host/port/name defaulting to the DSN."""
    parts = urlsplit(warehouse_dsn)
    return WarehouseConnection(
        host=metabase.db_host or parts.hostname or "localhost",
        port=metabase.db_port or parts.port or 5432,
        dbname=metabase.db_name or unquote(parts.path.lstrip("/")) or "warehouse",
        user=metabase.db_user,
        password=_require(
            metabase.db_password,
            "db_password",
            "the password of the read-only warehouse role Metabase connects as "
            "(created with `shopflow warehouse roles`)",
        ),
        ssl=metabase.db_ssl,
    )


def provision_from_settings(
    metabase: MetabaseSettings,
    warehouse_dsn: str,
    definitions: list[Dashboard] | Path | str = DEFAULT_ROOT,
) -> ProvisionReport:
    """`provision` with the Metabase URL, admin login and warehouse connection of the settings."""
    return provision(
        metabase.api_url,
        _require(metabase.admin_email, "admin_email", "the e-mail of Metabase's admin user"),
        _require(metabase.admin_password, "admin_password", "the password of Metabase's admin user"),
        warehouse_connection(metabase, warehouse_dsn),
        definitions,
        collection_name=metabase.collection,
        database_name=metabase.database_display_name,
        ready_timeout=metabase.ready_timeout,
        public_url=metabase.public_url,
    )
