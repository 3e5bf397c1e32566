"""A strict local stand-in for Metabase's REST API, modelled on Metabase's own source.

No Metabase server can run here, so provisioning is tested against this double. Each handler names
the file of github.com/metabase/metabase (the `api.macros/defendpoint` tree of 0.57+, which the
pinned image v0.62.6 belongs to) whose endpoint it models, and enforces what that endpoint enforces:
the session header (401), the request schema (400 with Metabase's `{"errors": {field: message}}`
body), the setup token checked before "a user exists" (400, then 403), a non-blank card
description, the tabs rule of PUT /api/dashboard/:id, the connection test of the database
endpoints (400 on create/update, 422 on sync_schema), 503 until Metabase has started, and removed
routes (404). Cards come back in MBQL 5, as from 0.57.

Where Metabase is lenient the double is stricter, on purpose: request bodies are CLOSED (a key the
endpoint's schema does not declare is refused with 400), because Metabase's malli schemas are open
maps whose undeclared keys are dropped or, in older releases, refused, so provisioning must send
only declared keys. Every request is recorded so tests can assert on the traffic. docs/dashboards.md
lists what was never checked against a live Metabase.

Usage:
    with MetabaseDouble() as mb:
        provision(mb.url, ...)
        assert len(mb.cards) == 21
"""

from __future__ import annotations

import copy
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DISPLAYS = {
    "table", "bar", "line", "pie", "scalar", "row", "area", "combo", "pivot", "smartscalar", "gauge",
    "progress", "funnel", "object", "map", "scatter", "boxplot", "waterfall", "sankey", "list",
}  # fmt: skip
ENGINES = {"postgres", "h2", "mysql", "sqlite", "redshift", "snowflake", "bigquery-cloud-sdk"}
COMMON_PASSWORDS = {"password", "password1", "12345678", "123456", "qwerty1", "metabase1", "admin123"}
REDACTED = "**MetabasePass**"
GRID_COLUMNS = 24
LOGIN_ATTEMPTS_PER_HOUR = 10
INITIALIZING = "Metabase is still initializing. Please sit tight..."

# Body keys each endpoint's schema declares (closed here, see the module docstring).
# src/metabase/setup/api.clj, POST /api/setup
SETUP_KEYS = {"token", "user", "prefs", "invite"}
SETUP_USER_KEYS = {"email", "password", "first_name", "last_name"}
SETUP_PREFS_KEYS = {"site_name", "site_locale", "allow_tracking"}
# src/metabase/session/api.clj, POST /api/session
LOGIN_KEYS = {"username", "password"}
# src/metabase/warehouses_rest/api.clj, POST /api/database and PUT /api/database/:id
DATABASE_CREATE_KEYS = {
    "name", "engine", "details", "is_full_sync", "is_on_demand", "schedules", "auto_run_queries",
    "cache_ttl", "connection_source", "provider_name",
}  # fmt: skip
DATABASE_UPDATE_KEYS = {
    "name", "engine", "refingerprint", "details", "write_data_details", "schedules", "description",
    "caveats", "points_of_interest", "auto_run_queries", "cache_ttl", "provider_name", "settings",
    "is_full_sync", "is_on_demand",
}  # fmt: skip
# src/metabase/collections/api.clj, POST /api/collection
COLLECTION_KEYS = {"name", "description", "parent_id", "namespace", "authority_level"}
# src/metabase/queries/api/card.clj, CardCreateSchema and CardUpdateSchema
CARD_CREATE_KEYS = {
    "name", "type", "dataset_query", "entity_id", "parameters", "parameter_mappings", "description",
    "display", "visualization_settings", "collection_id", "collection_position", "result_metadata",
    "cache_ttl", "dashboard_id", "dashboard_tab_id",
}  # fmt: skip
CARD_UPDATE_KEYS = {
    "name", "parameters", "parameter_mappings", "dataset_query", "type", "display", "description",
    "visualization_settings", "archived", "enable_embedding", "embedding_type", "embedding_params",
    "collection_id", "collection_position", "result_metadata", "cache_ttl", "collection_preview",
    "dashboard_id", "dashboard_tab_id",
}  # fmt: skip
# src/metabase/dashboards/api.clj, POST /api/dashboard, DashUpdates, UpdatedDashboardCard (plus the
# dashcard columns the model reads from the same maps) and UpdatedDashboardTab
DASHBOARD_CREATE_KEYS = {"name", "parameters", "description", "cache_ttl", "collection_id", "collection_position"}
DASHBOARD_UPDATE_KEYS = {
    "name", "description", "caveats", "points_of_interest", "show_in_getting_started",
    "enable_embedding", "embedding_params", "parameters", "position", "width", "archived",
    "collection_id", "collection_position", "cache_ttl", "dashcards", "tabs",
}  # fmt: skip
DASHCARD_KEYS = {
    "id", "card_id", "action_id", "dashboard_tab_id", "row", "col", "size_x", "size_y",
    "parameter_mappings", "series", "visualization_settings", "inline_parameters",
}  # fmt: skip
TAB_KEYS = {"id", "name"}


@dataclass
class RecordedRequest:
    """One request the double received and the status it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]
    status: int = 0


class _Reply(Exception):
    """Raised inside a handler to answer with `status` and `body` (dict -> JSON, str -> text)."""

    def __init__(self, status: int, body: Any):
        super().__init__(status)
        self.status = status
        self.body = body


def _bad_request(field: str, message: str) -> _Reply:
    # src/metabase/server/middleware/exceptions.clj renders a schema failure this way.
    return _Reply(400, {"errors": {field: message}, "specific-errors": {field: [message]}})


def _closed(body: dict[str, Any], declared: set[str], where: str = "") -> None:
    undeclared = sorted(set(body) - declared)
    if undeclared:
        raise _bad_request(where + undeclared[0], "disallowed key (not in the endpoint's schema).")


def _non_blank(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _bad_request(field, "value must be a non-blank string.")
    return value


class MetabaseDouble:
    """A threaded HTTP server on 127.0.0.1 (free port) that behaves like Metabase's REST API."""

    def __init__(
        self,
        *,
        version: str = "v0.58.2",
        connection_check: Callable[[dict[str, Any]], str | None] | None = None,
        initializing_polls: int = 0,
        clear_token_on_setup: bool = True,
    ):
        self.version = version
        # GET /api/health answers 503 "initializing" this many times before Metabase is "started".
        self.initializing_polls = initializing_polls
        # 0.61.4+ clears the setup token once a user exists; earlier releases keep it.
        self.clear_token_on_setup = clear_token_on_setup
        self._race_setup_with: tuple[str, str] | None = None
        # Called with a database's details on create/update: return an error message to refuse the
        # connection (Metabase tests it synchronously), None to accept. Default: fields present.
        self.connection_check = connection_check or _details_complete
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.setup_token: str | None = str(uuid.uuid4())
        self.users: dict[str, str] = {}
        self.sessions: set[str] = set()
        self.failed_logins: dict[str, int] = {}
        self.databases: dict[int, dict[str, Any]] = {}
        self.collections: dict[int, dict[str, Any]] = {}
        self.cards: dict[int, dict[str, Any]] = {}
        self.dashboards: dict[int, dict[str, Any]] = {}
        self._ids: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> MetabaseDouble:
        """Listen on 127.0.0.1 on a free port in a daemon thread."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else keep-alive replies wait on delayed ACKs (~40 ms)

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                return

            def _handle(self) -> None:
                double._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MetabaseDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the double first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- test helpers ------------------------------------------------------------------------------
    @property
    def has_user_setup(self) -> bool:
        return bool(self.users)

    def add_admin(self, email: str, password: str) -> None:
        """Pretend the first-run setup already happened with this admin."""
        with self.lock:
            self.users[email] = password
            if self.clear_token_on_setup:
                self.setup_token = None

    def race_setup_after_next_properties(self, email: str, password: str) -> None:
        """Have another process finish the setup right after the next GET /api/session/properties."""
        self._race_setup_with = (email, password)

    def add_tab(self, dashboard_id: int, name: str) -> int:
        """Give a dashboard a tab, as a user would in the UI; return its id."""
        with self.lock:
            dashboard = self.dashboards[dashboard_id]
            tab = {"id": self._next_id("tab"), "name": name, "position": len(dashboard["tabs"])}
            dashboard["tabs"].append(tab)
            for dashcard in dashboard["dashcards"]:
                dashcard["dashboard_tab_id"] = dashcard.get("dashboard_tab_id") or tab["id"]
            return tab["id"]

    def stranded_dashcards(self) -> list[dict[str, Any]]:
        """Dashcards whose dashboard_tab_id names a tab their dashboard no longer has."""
        return [
            dashcard
            for dashboard in self.dashboards.values()
            for dashcard in dashboard["dashcards"]
            if dashcard.get("dashboard_tab_id") is not None
            and dashcard["dashboard_tab_id"] not in {t["id"] for t in dashboard["tabs"]}
        ]

    def calls(self, method: str, pattern: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path fully matches the regex `pattern`."""
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    # --- plumbing ----------------------------------------------------------------------------------
    def _next_id(self, kind: str) -> int:
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        record = RecordedRequest(
            method=handler.command,
            path=parts.path,
            query=parse_qs(parts.query),
            body=None,
            headers={k.lower(): v for k, v in handler.headers.items()},
        )
        try:
            if raw:
                try:
                    record.body = json.loads(raw)
                except ValueError:
                    raise _Reply(400, {"message": "Malformed JSON in request body."}) from None
            with self.lock:
                self.requests.append(record)
                status, body = 200, self._route(record)
        except _Reply as reply:
            status, body = reply.status, reply.body
        record.status = status
        if isinstance(body, str):
            payload, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            payload, ctype = json.dumps(body).encode(), "application/json; charset=utf-8"
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    ROUTES: tuple[tuple[str, str, str, bool], ...] = (
        # method, path regex, handler name, needs auth
        ("GET", r"/api/health", "_health", False),
        ("GET", r"/api/session/properties", "_session_properties", False),
        ("POST", r"/api/setup", "_setup", False),
        ("POST", r"/api/session", "_login", False),
        ("GET", r"/api/user/current", "_current_user", True),
        ("GET", r"/api/database", "_list_databases", True),
        ("POST", r"/api/database", "_create_database", True),
        ("GET", r"/api/database/(\d+)", "_get_database", True),
        ("PUT", r"/api/database/(\d+)", "_update_database", True),
        ("POST", r"/api/database/(\d+)/sync_schema", "_sync_schema", True),
        ("GET", r"/api/collection", "_list_collections", True),
        ("POST", r"/api/collection", "_create_collection", True),
        ("GET", r"/api/collection/(\d+)/items", "_collection_items", True),
        ("GET", r"/api/card", "_list_cards", True),
        ("POST", r"/api/card", "_create_card", True),
        ("GET", r"/api/card/(\d+)", "_get_card", True),
        ("PUT", r"/api/card/(\d+)", "_update_card", True),
        ("POST", r"/api/dashboard", "_create_dashboard", True),
        ("GET", r"/api/dashboard/(\d+)", "_get_dashboard", True),
        ("PUT", r"/api/dashboard/(\d+)", "_update_dashboard", True),
        # POST /api/dashboard/:id/cards was removed (~0.47): it falls through to the unknown-route 404.
    )

    def _route(self, req: RecordedRequest) -> Any:
        # src/metabase/server/routes.clj: until initialisation completes every /api route but
        # /api/health answers 503 with a plain-text message.
        if self.initializing_polls > 0 and req.path != "/api/health":
            raise _Reply(503, INITIALIZING)
        for method, pattern, name, needs_auth in self.ROUTES:
            match = re.fullmatch(pattern, req.path)
            if match and method == req.method:
                if needs_auth and req.headers.get("x-metabase-session") not in self.sessions:
                    raise _Reply(401, "Unauthenticated")
                return getattr(self, name)(req, *(int(g) for g in match.groups()))
        raise _Reply(404, "API endpoint does not exist.")

    @staticmethod
    def _body(req: RecordedRequest) -> dict[str, Any]:
        if not isinstance(req.body, dict):
            raise _Reply(400, {"message": "request body must be a JSON object"})
        return req.body

    # --- health, session and setup -----------------------------------------------------------------
    def _health(self, req: RecordedRequest) -> Any:
        # src/metabase/server/routes.clj (health-handler)
        if self.initializing_polls > 0:
            self.initializing_polls -= 1
            raise _Reply(503, {"status": "initializing", "progress": 0.5})
        return {"status": "ok"}

    def _session_properties(self, req: RecordedRequest) -> Any:
        # src/metabase/session/api.clj, GET /api/session/properties (public settings when anonymous)
        answer = {
            "setup-token": self.setup_token,
            "has-user-setup": self.has_user_setup,
            "version": {"tag": self.version},
            "site-name": "Metabase",
        }
        if self._race_setup_with is not None:
            # Another process completes the setup between this answer and the caller's POST.
            email, password = self._race_setup_with
            self._race_setup_with = None
            self.add_admin(email, password)
        return answer

    def _setup(self, req: RecordedRequest) -> Any:
        # src/metabase/setup/api.clj, POST /api/setup: the request schema (SetupToken first) is checked
        # before the handler, whose setup-create-user! refuses with 403 once a user exists.
        body = self._body(req)
        if not isinstance(body.get("token"), str) or body.get("token") != self.setup_token:
            raise _bad_request("token", "Token does not match the setup token.")
        _closed(body, SETUP_KEYS)
        user = body.get("user")
        if not isinstance(user, dict):
            raise _bad_request("user", "value must be a map.")
        _closed(user, SETUP_USER_KEYS, "user.")
        email = _non_blank(user, "email")
        password = _non_blank(user, "password")
        if len(password) < 6 or not re.search(r"\d", password) or password.lower() in COMMON_PASSWORDS:
            raise _bad_request("password", "password is too common.")
        prefs = body.get("prefs")
        if not isinstance(prefs, dict):
            raise _bad_request("prefs", "value must be a map.")
        _closed(prefs, SETUP_PREFS_KEYS, "prefs.")
        _non_blank(prefs, "site_name")
        if self.has_user_setup:
            raise _Reply(
                403,
                "The /api/setup route can only be used to create the first user, however a user currently exists.",
            )
        self.users[email] = password
        if self.clear_token_on_setup:
            self.setup_token = None
        session = str(uuid.uuid4())
        self.sessions.add(session)
        return {"id": session}

    def _login(self, req: RecordedRequest) -> Any:
        # src/metabase/session/api.clj, POST /api/session (with login throttling)
        body = self._body(req)
        _closed(body, LOGIN_KEYS)
        username = _non_blank(body, "username")
        password = _non_blank(body, "password")
        if self.failed_logins.get(username, 0) >= LOGIN_ATTEMPTS_PER_HOUR:
            raise _Reply(
                401,
                {"errors": {"username": "Too many attempts! You must wait 42 seconds before trying again."}},
            )
        if self.users.get(username) != password:
            self.failed_logins[username] = self.failed_logins.get(username, 0) + 1
            raise _Reply(401, {"errors": {"password": "did not match stored password"}})
        session = str(uuid.uuid4())
        self.sessions.add(session)
        return {"id": session}

    def _current_user(self, req: RecordedRequest) -> Any:
        return {"id": 1, "email": next(iter(self.users)), "is_superuser": True}

    # --- databases ---------------------------------------------------------------------------------
    def _public_database(self, db: dict[str, Any]) -> dict[str, Any]:
        public = copy.deepcopy(db)
        if "password" in public["details"]:
            public["details"]["password"] = REDACTED  # Metabase never returns secrets
        return public

    def _check_connection(self, details: dict[str, Any]) -> None:
        error = self.connection_check(details)
        if error:
            raise _Reply(400, {"message": error, "errors": {"dbname": error}})

    def _list_databases(self, req: RecordedRequest) -> Any:
        data = [self._public_database(db) for db in self.databases.values()]
        return {"data": data, "total": len(data)}

    def _get_database(self, req: RecordedRequest, db_id: int) -> Any:
        if db_id not in self.databases:
            raise _Reply(404, "Not found.")
        return self._public_database(self.databases[db_id])

    # src/metabase/warehouses_rest/api.clj for every database handler below.
    def _create_database(self, req: RecordedRequest) -> Any:
        body = self._body(req)
        _closed(body, DATABASE_CREATE_KEYS)
        name = _non_blank(body, "name")
        engine = _non_blank(body, "engine")
        if engine not in ENGINES:
            raise _bad_request("engine", f"value must be a valid database engine, not {engine!r}.")
        details = body.get("details")
        if not isinstance(details, dict):
            raise _bad_request("details", "value must be a map.")
        if "cache_ttl" in body:
            raise _Reply(402, "Caching is a paid feature.")
        self._check_connection(details)
        db = {
            "id": self._next_id("database"),
            "name": name,
            "engine": engine,
            "details": copy.deepcopy(details),
            "initial_sync_status": "incomplete",
            "is_full_sync": body.get("is_full_sync", True),
        }
        self.databases[db["id"]] = db
        return self._public_database(db)

    def _update_database(self, req: RecordedRequest, db_id: int) -> Any:
        if db_id not in self.databases:
            raise _Reply(404, "Not found.")
        body = self._body(req)
        _closed(body, DATABASE_UPDATE_KEYS)
        if "cache_ttl" in body:
            raise _Reply(402, "Caching is a paid feature.")
        db = self.databases[db_id]
        if "details" in body:
            if not isinstance(body["details"], dict):
                raise _bad_request("details", "value must be a map.")
            details = {**db["details"], **body["details"]}
            if body["details"].get("password") == REDACTED:
                details["password"] = db["details"].get("password")
            # The connection is tested only when the details (or the engine) change.
            if details != db["details"]:
                self._check_connection(details)
            db["details"] = details
        for key in ("name", "engine"):
            if key in body:
                db[key] = _non_blank(body, key)
        return self._public_database(db)

    def _sync_schema(self, req: RecordedRequest, db_id: int) -> Any:
        if db_id not in self.databases:
            raise _Reply(404, "Not found.")
        # The connection is tested first; a failure is a 422 whose body is the driver's message.
        error = self.connection_check(self.databases[db_id]["details"])
        if error:
            raise _Reply(422, error)
        self.databases[db_id]["initial_sync_status"] = "complete"
        return {"status": "ok"}

    # --- collections -------------------------------------------------------------------------------
    # src/metabase/collections/api.clj for the collection handlers.
    def _list_collections(self, req: RecordedRequest) -> Any:
        root = {"id": "root", "name": "Our analytics", "location": None, "archived": False}
        return [root, *(copy.deepcopy(c) for c in self.collections.values())]

    def _create_collection(self, req: RecordedRequest) -> Any:
        body = self._body(req)
        _closed(body, COLLECTION_KEYS)
        name = _non_blank(body, "name")
        parent = body.get("parent_id")
        if parent is not None and parent not in self.collections:
            raise _Reply(404, "Not found.")
        collection = {
            "id": self._next_id("collection"),
            "name": name,
            "description": body.get("description"),
            "location": "/" if parent is None else f"/{parent}/",
            "slug": re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_"),
            "archived": False,
        }
        self.collections[collection["id"]] = collection
        return copy.deepcopy(collection)

    def _collection_items(self, req: RecordedRequest, collection_id: int) -> Any:
        if collection_id not in self.collections:
            raise _Reply(404, "Not found.")
        models = set(req.query.get("models", [])) or {"card", "dashboard", "collection"}
        data = []
        if "card" in models:
            data += [
                {"id": c["id"], "name": c["name"], "model": "card", "description": c["description"]}
                for c in self.cards.values()
                if c["collection_id"] == collection_id and not c["archived"]
            ]
        if "dashboard" in models:
            data += [
                {"id": d["id"], "name": d["name"], "model": "dashboard", "description": d["description"]}
                for d in self.dashboards.values()
                if d["collection_id"] == collection_id and not d["archived"]
            ]
        return {"data": data, "total": len(data), "models": sorted(models), "limit": None, "offset": None}

    # --- cards: src/metabase/queries/api/card.clj --------------------------------------------------
    def _stored_query(self, query: Any) -> dict[str, Any]:
        """Validate a dataset_query and store it in the MBQL 5 shape (0.57+)."""
        if not isinstance(query, dict):
            raise _bad_request("dataset_query", "value must be a map.")
        if query.get("lib/type") == "mbql/query":
            stages = query.get("stages")
            if not (isinstance(stages, list) and stages and isinstance(stages[0].get("native"), str)):
                raise _bad_request("dataset_query", "MBQL 5 query needs a native first stage.")
            database, sql = query.get("database"), stages[0]["native"]
        elif query.get("type") == "native":
            native = query.get("native")
            if not isinstance(native, dict) or not isinstance(native.get("query"), str):
                raise _bad_request("dataset_query", "native query must have a string native.query.")
            database, sql = query.get("database"), native["query"]
        else:
            raise _bad_request("dataset_query", "only native queries are supported by this double.")
        if not sql.strip():
            raise _bad_request("dataset_query", "native query must not be blank.")
        if database not in self.databases:
            raise _bad_request("dataset_query", f"database {database!r} does not exist.")
        return {
            "lib/type": "mbql/query",
            "database": database,
            "stages": [{"lib/type": "mbql.stage/native", "native": sql, "template-tags": {}}],
        }

    @staticmethod
    def _legacy_query(stored: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "native",
            "native": {"query": stored["stages"][0]["native"], "template-tags": {}},
            "database": stored["database"],
        }

    def _check_card_fields(self, body: dict[str, Any], *, partial: bool) -> None:
        _closed(body, CARD_UPDATE_KEYS if partial else CARD_CREATE_KEYS)
        required = ("name", "dataset_query", "display", "visualization_settings")
        for field in required:
            if field not in body and not partial:
                raise _bad_request(field, "value must be present.")
        if "name" in body:
            _non_blank(body, "name")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise _bad_request("description", "value must be a string.")
        # CardCreateSchema: [:maybe ms/NonBlankString]; CardUpdateSchema: [:maybe :string].
        if not partial and description is not None and not description.strip():
            raise _bad_request("description", "value must be a non-blank string.")
        if "display" in body and body["display"] not in DISPLAYS:
            raise _bad_request("display", f"value must be a valid display, not {body['display']!r}.")
        if "visualization_settings" in body and not isinstance(body["visualization_settings"], dict):
            raise _bad_request("visualization_settings", "value must be a map.")
        if "dashboard_id" in body:
            # Strict on purpose: sending it would make a dashboard-internal question.
            raise _bad_request("dashboard_id", "provisioning must not create dashboard questions.")
        collection_id = body.get("collection_id")
        if collection_id is not None and collection_id not in self.collections:
            raise _bad_request("collection_id", f"collection {collection_id!r} does not exist.")

    def _public_card(self, card: dict[str, Any], req: RecordedRequest) -> dict[str, Any]:
        public = copy.deepcopy(card)
        if req.query.get("legacy-mbql") == ["true"]:
            public["dataset_query"] = self._legacy_query(card["dataset_query"])
        return public

    def _list_cards(self, req: RecordedRequest) -> Any:
        return [self._public_card(c, req) for c in self.cards.values()]

    def _get_card(self, req: RecordedRequest, card_id: int) -> Any:
        if card_id not in self.cards:
            raise _Reply(404, "Not found.")
        return self._public_card(self.cards[card_id], req)

    def _create_card(self, req: RecordedRequest) -> Any:
        body = self._body(req)
        self._check_card_fields(body, partial=False)
        query = self._stored_query(body["dataset_query"])
        card = {
            "id": self._next_id("card"),
            "name": body["name"],
            "description": body.get("description"),
            "display": body["display"],
            "type": body.get("type", "question"),
            "collection_id": body.get("collection_id"),
            "dataset_query": query,
            "database_id": query["database"],
            "query_type": "native",
            "visualization_settings": copy.deepcopy(body["visualization_settings"]),
            "archived": False,
        }
        self.cards[card["id"]] = card
        return self._public_card(card, req)

    def _update_card(self, req: RecordedRequest, card_id: int) -> Any:
        if card_id not in self.cards:
            raise _Reply(404, "Not found.")
        body = self._body(req)
        self._check_card_fields(body, partial=True)
        card = self.cards[card_id]
        if "dataset_query" in body:
            card["dataset_query"] = self._stored_query(body["dataset_query"])
            card["database_id"] = card["dataset_query"]["database"]
        for key in ("name", "description", "display", "collection_id", "archived", "type"):
            if key in body:
                card[key] = body[key]
        if "visualization_settings" in body:
            card["visualization_settings"] = copy.deepcopy(body["visualization_settings"])
        return self._public_card(card, req)

    # --- dashboards: src/metabase/dashboards/api.clj, models/dashboard_tab.clj ---------------------
    def _public_dashboard(self, dashboard: dict[str, Any], req: RecordedRequest) -> dict[str, Any]:
        public = copy.deepcopy(dashboard)
        for dashcard in public["dashcards"]:
            card = self.cards.get(dashcard["card_id"])
            dashcard["card"] = self._public_card(card, req) if card else None
        return public

    def _create_dashboard(self, req: RecordedRequest) -> Any:
        body = self._body(req)
        _closed(body, DASHBOARD_CREATE_KEYS)
        name = _non_blank(body, "name")
        collection_id = body.get("collection_id")
        if collection_id is not None and collection_id not in self.collections:
            raise _bad_request("collection_id", f"collection {collection_id!r} does not exist.")
        # POST /api/dashboard declares no cards: they are added by PUT /api/dashboard/:id.
        dashboard = {
            "id": self._next_id("dashboard"),
            "name": name,
            "description": body.get("description"),
            "collection_id": collection_id,
            "parameters": body.get("parameters", []),
            "archived": False,
            "tabs": [],
            "dashcards": [],
        }
        self.dashboards[dashboard["id"]] = dashboard
        return self._public_dashboard(dashboard, req)

    def _get_dashboard(self, req: RecordedRequest, dashboard_id: int) -> Any:
        if dashboard_id not in self.dashboards:
            raise _Reply(404, "Not found.")
        return self._public_dashboard(self.dashboards[dashboard_id], req)

    def _validated_dashcards(
        self, dashboard: dict[str, Any], dashcards: Any, tab_ids: set[int]
    ) -> list[dict[str, Any]]:
        if not isinstance(dashcards, list):
            raise _bad_request("dashcards", "value must be an array.")
        ids = [d.get("id") if isinstance(d, dict) else None for d in dashcards]
        if len(set(ids)) != len(ids):
            raise _bad_request("dashcards", "dashcard ids must be unique.")
        own = {d["id"] for d in dashboard["dashcards"]}
        result = []
        for i, dashcard in enumerate(dashcards):
            if not isinstance(dashcard, dict):
                raise _bad_request("dashcards", f"item {i} must be a map.")
            _closed(dashcard, DASHCARD_KEYS, f"dashcards.{i}.")
            for key in ("id", "row", "col", "size_x", "size_y"):
                if not isinstance(dashcard.get(key), int) or isinstance(dashcard.get(key), bool):
                    raise _bad_request("dashcards", f"item {i}: {key} must be an integer.")
            if dashcard["id"] > 0 and dashcard["id"] not in own:
                raise _bad_request("dashcards", f"item {i}: dashcard {dashcard['id']} is not on this dashboard.")
            if dashcard["id"] == 0:
                raise _bad_request("dashcards", f"item {i}: id 0 is neither existing nor new.")
            card_id = dashcard.get("card_id")
            if card_id not in self.cards:
                raise _bad_request("dashcards", f"item {i}: card {card_id!r} does not exist.")
            if dashcard["row"] < 0 or dashcard["col"] < 0 or dashcard["size_x"] < 1 or dashcard["size_y"] < 1:
                raise _bad_request("dashcards", f"item {i}: negative position or empty size.")
            if dashcard["col"] + dashcard["size_x"] > GRID_COLUMNS:
                raise _bad_request("dashcards", f"item {i}: wider than the {GRID_COLUMNS}-column grid.")
            tab_id = dashcard.get("dashboard_tab_id")
            if tab_id is not None and tab_id not in tab_ids:
                raise _bad_request("dashcards", f"item {i}: dashboard_tab_id {tab_id!r} is not a tab of the update.")
            result.append(
                {
                    "id": dashcard["id"] if dashcard["id"] > 0 else self._next_id("dashcard"),
                    "card_id": card_id,
                    "dashboard_id": dashboard["id"],
                    "dashboard_tab_id": dashcard.get("dashboard_tab_id"),
                    "row": dashcard["row"],
                    "col": dashcard["col"],
                    "size_x": dashcard["size_x"],
                    "size_y": dashcard["size_y"],
                    "visualization_settings": copy.deepcopy(dashcard.get("visualization_settings") or {}),
                    "parameter_mappings": copy.deepcopy(dashcard.get("parameter_mappings") or []),
                }
            )
        return result

    def _validated_tabs(self, tabs: Any) -> list[dict[str, Any]]:
        if tabs is None:
            return []
        if not isinstance(tabs, list):
            raise _bad_request("tabs", "value must be an array.")
        for i, tab in enumerate(tabs):
            if not isinstance(tab, dict):
                raise _bad_request("tabs", f"item {i} must be a map.")
            _closed(tab, TAB_KEYS, f"tabs.{i}.")
            if not isinstance(tab.get("id"), int) or isinstance(tab.get("id"), bool):
                raise _bad_request("tabs", f"item {i}: id must be an integer.")
            _non_blank(tab, "name")
        if len({t["id"] for t in tabs}) != len(tabs):
            raise _bad_request("tabs", "tab ids must be unique.")
        return tabs

    def _update_dashboard(self, req: RecordedRequest, dashboard_id: int) -> Any:
        if dashboard_id not in self.dashboards:
            raise _Reply(404, "Not found.")
        body = self._body(req)
        _closed(body, DASHBOARD_UPDATE_KEYS)
        dashboard = self.dashboards[dashboard_id]
        if "name" in body:
            _non_blank(body, "name")
        if "collection_id" in body and body["collection_id"] not in (None, *self.collections):
            raise _bad_request("collection_id", f"collection {body['collection_id']!r} does not exist.")
        sent_tabs = self._validated_tabs(body.get("tabs"))
        new_cards = None
        if "dashcards" in body:
            # update-dashboard: a dashboard that has tabs needs a tab on every dashcard (else 400),
            # then do-update-tabs! makes the tabs those SENT (a missing key counts as none): current
            # tabs not sent are deleted, negative ids are created.
            if dashboard["tabs"] and not all(
                isinstance(d, dict) and d.get("dashboard_tab_id") is not None for d in body["dashcards"] or []
            ):
                raise _Reply(400, {"message": "This dashboard has tab, makes sure every card has a tab"})
            current_ids = {t["id"] for t in dashboard["tabs"]}
            unknown = [t["id"] for t in sent_tabs if t["id"] > 0 and t["id"] not in current_ids]
            if unknown:
                raise _bad_request("tabs", f"tab {unknown[0]} is not on this dashboard.")
            new_cards = self._validated_dashcards(
                dashboard, body["dashcards"] or [], {t["id"] for t in sent_tabs} | current_ids
            )
            new_tabs, renumber = [], {}
            for position, tab in enumerate(sent_tabs):
                tab_id = tab["id"] if tab["id"] > 0 else self._next_id("tab")
                renumber[tab["id"]] = tab_id
                new_tabs.append({"id": tab_id, "name": tab["name"], "position": position})
            for dashcard in new_cards:
                if dashcard["dashboard_tab_id"] is not None:
                    dashcard["dashboard_tab_id"] = renumber.get(
                        dashcard["dashboard_tab_id"], dashcard["dashboard_tab_id"]
                    )
            dashboard["tabs"] = new_tabs
        for key in ("name", "description", "collection_id", "archived", "parameters"):
            if key in body:
                dashboard[key] = body[key]
        if new_cards is not None:
            dashboard["dashcards"] = new_cards  # the list REPLACES all cards
        return self._public_dashboard(dashboard, req)


def _details_complete(details: dict[str, Any]) -> str | None:
    missing = [k for k in ("host", "port", "dbname", "user") if not details.get(k)]
    if missing:
        return f"Connection details are missing: {', '.join(missing)}."
    return None
