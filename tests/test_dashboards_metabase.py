"""Metabase provisioning against the strict local double (tests/metabase_double.py)."""

from __future__ import annotations

import re
import shutil
import socket
from pathlib import Path

import pytest
import requests

from shopflow.config import DEFAULT_METABASE_URL, ConfigError, MetabaseSettings
from shopflow.dashboards.definitions import DEFAULT_ROOT, all_cards, load_dashboards
from shopflow.dashboards.metabase import (
    MetabaseAuthError,
    MetabaseClient,
    MetabaseError,
    MetabaseUnreachable,
    WarehouseConnection,
    card_payload,
    column_key,
    native_sql,
    provision,
    provision_from_settings,
    visualization_settings,
    wait_until_ready,
    warehouse_connection,
)
from tests.metabase_double import MetabaseDouble

# Every card of every dashboard in metabase/, as provisioning sends them.
CARD_COUNT = len(all_cards(load_dashboards()))

ADMIN = ("admin@shopflow.example", "Pr0visioning-pass")
WAREHOUSE = WarehouseConnection("warehouse.internal", 5432, "warehouse", "metabase_reader", "r3ader-pw")
DASHBOARDS = load_dashboards()
CARDS = {c.key: c for c in all_cards(DASHBOARDS)}


@pytest.fixture
def double():
    with MetabaseDouble() as mb:
        yield mb


def run(mb: MetabaseDouble, definitions=DEFAULT_ROOT, password: str = ADMIN[1]):
    return provision(mb.url, ADMIN[0], password, WAREHOUSE, definitions, ready_timeout=5)


def errors_of(mb: MetabaseDouble) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.status) for r in mb.requests if r.status >= 400]


# --- provisioning ----------------------------------------------------------------------------------


def test_provisioning_from_scratch_creates_everything_once(double):
    report = run(double)
    assert report.setup_performed
    assert (len(double.databases), len(double.collections), len(double.cards), len(double.dashboards)) == (
        1,
        1,
        27,
        5,
    )
    assert report.count("card", "created") == CARD_COUNT
    assert report.count("dashboard", "created") == 5
    # The database uses the read-only role, and Metabase got the password (it never returns it).
    (db,) = double.databases.values()
    assert db["details"]["user"] == "metabase_reader"
    assert db["details"]["password"] == "r3ader-pw"
    assert db["engine"] == "postgres"
    # Each dashboard's cards were set in exactly one PUT, never through the removed route.
    assert len(double.calls("PUT", r"/api/dashboard/\d+")) == 5
    assert double.calls("POST", r"/api/dashboard/\d+/cards") == []
    assert all(r.status < 400 for r in double.requests), [
        (r.method, r.path, r.status) for r in double.requests if r.status >= 400
    ]
    for put in double.calls("PUT", r"/api/dashboard/\d+"):
        ids = [d["id"] for d in put.body["dashcards"]]
        assert all(i < 0 for i in ids) and len(set(ids)) == len(ids)


def test_dashboards_match_the_yaml_layout(double):
    report = run(double)
    by_name = {d["name"]: d for d in double.dashboards.values()}
    card_names = {c["id"]: c["name"] for c in double.cards.values()}
    for dashboard in DASHBOARDS:
        stored = by_name[dashboard.title]
        assert stored["collection_id"] == report.collection.id
        got = sorted(
            (card_names[d["card_id"]], d["row"], d["col"], d["size_x"], d["size_y"]) for d in stored["dashcards"]
        )
        want = sorted((i.card.title, i.row, i.col, i.size_x, i.size_y) for i in dashboard.layout)
        assert got == want
    urls = {d.name: d.url for d in report.dashboards}
    executive_id = by_name["Executive"]["id"]
    assert urls["Executive"] == f"{double.url}/dashboard/{executive_id}#refresh=300"


def test_cards_are_native_sql_in_the_collection(double):
    report = run(double)
    stored = {c["name"]: c for c in double.cards.values()}
    for card in CARDS.values():
        got = stored[card.title]
        assert got["collection_id"] == report.collection.id
        assert native_sql(got["dataset_query"]) == (card.sql, report.database.id)
        assert got["dataset_query"]["lib/type"] == "mbql/query"  # the double answers like 0.57+
    assert stored["Rating vs sales"]["display"] == "scatter"
    assert stored["Customer value segments"]["display"] == "pie"
    assert stored["Last month's revenue"]["display"] == "smartscalar"
    for post in double.calls("POST", r"/api/card"):
        assert "dashboard_id" not in post.body
        assert post.body["dataset_query"]["type"] == "native"


def test_second_run_creates_nothing_and_updates(double):
    first = run(double)
    double.clear_requests()
    second = run(double)
    for path in (r"/api/card", r"/api/dashboard", r"/api/collection", r"/api/database"):
        assert double.calls("POST", path) == [], path
    assert (len(double.databases), len(double.collections), len(double.cards), len(double.dashboards)) == (
        1,
        1,
        27,
        5,
    )
    assert not second.setup_performed
    assert second.database.action == "updated" and second.database.id == first.database.id
    assert second.collection.action == "unchanged"
    assert second.count("card", "created") == 0 and second.count("dashboard", "created") == 0
    assert second.count("card", "unchanged") == CARD_COUNT
    assert [d.url for d in second.dashboards] == [d.url for d in first.dashboards]
    # The database details (e.g. a rotated password) are always re-sent, and a schema sync asked for.
    assert len(double.calls("PUT", r"/api/database/\d+")) == 1
    assert len(double.calls("POST", r"/api/database/\d+/sync_schema")) == 1


def test_changed_sql_updates_only_that_card(double, tmp_path):
    root = tmp_path / "metabase"
    shutil.copytree(DEFAULT_ROOT, root)
    run(double, root)
    sql_path = root / "cards" / "executive" / "total_orders.sql"
    new_sql = sql_path.read_text().replace("as dr", "as dr\nwhere dr.orders > 0")
    sql_path.write_text(new_sql)
    double.clear_requests()
    report = run(double, root)
    puts = double.calls("PUT", r"/api/card/\d+")
    assert len(puts) == 1
    (card,) = [c for c in double.cards.values() if c["name"] == "Total orders"]
    assert puts[0].path == f"/api/card/{card['id']}"
    assert native_sql(card["dataset_query"])[0] == new_sql.strip()
    outcomes = {o.name: o.action for o in report.cards}
    assert outcomes["Total orders"] == "updated"
    assert sum(1 for a in outcomes.values() if a == "unchanged") == 26
    assert double.calls("POST", r"/api/card") == []


def test_moved_card_keeps_its_dashcard_id(double, tmp_path):
    root = tmp_path / "metabase"
    shutil.copytree(DEFAULT_ROOT, root)
    run(double, root)
    (traffic,) = [d for d in double.dashboards.values() if d["name"] == "Traffic"]
    before = {d["card_id"]: d["id"] for d in traffic["dashcards"]}
    path = root / "dashboards" / "traffic.yml"
    path.write_text(
        path.read_text().replace(
            "{card: customer_segment_history, row: 14, col: 0, size_x: 24, size_y: 6}",
            "{card: customer_segment_history, row: 20, col: 0, size_x: 24, size_y: 8}",
        )
    )
    double.clear_requests()
    report = run(double, root)
    assert {d.name: d.action for d in report.dashboards}["Traffic"] == "updated"
    (put,) = double.calls("PUT", rf"/api/dashboard/{traffic['id']}")
    assert all(d["id"] > 0 for d in put.body["dashcards"])  # nothing recreated
    after = {d["card_id"]: d["id"] for d in double.dashboards[traffic["id"]]["dashcards"]}
    assert after == before
    moved = [d for d in double.dashboards[traffic["id"]]["dashcards"] if d["row"] == 20]
    assert len(moved) == 1 and moved[0]["size_y"] == 8


def test_existing_admin_logs_in_instead_of_setup(double):
    double.add_admin(*ADMIN)
    report = run(double)
    assert not report.setup_performed
    assert double.calls("POST", r"/api/setup") == []
    assert len(double.calls("POST", r"/api/session")) == 1


def test_wrong_password_is_a_clear_error(double):
    double.add_admin(*ADMIN)
    with pytest.raises(MetabaseAuthError) as info:
        run(double, password="not-the-password1")
    message = str(info.value)
    assert double.url in message and ADMIN[0] in message
    assert "did not match stored password" in message
    assert double.cards == {}


def test_unreachable_metabase_names_the_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"  # bound then closed: nothing listens there
    with pytest.raises(MetabaseUnreachable) as info:
        provision(url, *ADMIN, WAREHOUSE, DASHBOARDS, timeout=5, ready_timeout=0)
    assert url in str(info.value)
    assert "METABASE_URL" in str(info.value)


def test_refused_warehouse_connection_is_a_clear_error():
    def refuse(details):
        return f"Connection refused: {details['host']}:{details['port']}"

    with MetabaseDouble(connection_check=refuse) as mb, pytest.raises(MetabaseError) as info:
        run(mb)
    message = str(info.value)
    assert "metabase_reader@warehouse.internal:5432/warehouse" in message
    assert "Connection refused" in message


def test_weak_admin_password_fails_setup_clearly(double):
    with pytest.raises(MetabaseError, match=r"first-run setup .* failed: password: password is too common"):
        run(double, password="password")


def test_provision_from_settings_reads_the_documented_variables(double):
    env = {
        "METABASE_URL": double.url,
        "METABASE_ADMIN_EMAIL": ADMIN[0],
        "METABASE_ADMIN_PASSWORD": ADMIN[1],
        "METABASE_DB_HOST": "db.example",
        "METABASE_DB_USER": "reader",
        "METABASE_DB_PASSWORD": "s3cret-reader",
        "METABASE_COLLECTION": "Shop KPIs",
    }
    report = provision_from_settings(
        MetabaseSettings.from_env(env),
        "postgresql://owner@127.0.0.1:55432/warehouse",
        DASHBOARDS,
    )
    assert report.collection.name == "Shop KPIs"
    (db,) = double.databases.values()
    assert db["details"] == {
        "host": "db.example",
        "port": 55432,
        "dbname": "warehouse",
        "user": "reader",
        "password": "s3cret-reader",
        "ssl": False,
    }


def test_missing_reader_password_is_named():
    with pytest.raises(MetabaseError, match="METABASE_DB_PASSWORD is not set"):
        warehouse_connection(MetabaseSettings.from_env({}), "postgresql://u:p@h:5432/warehouse")


# --- payload mapping -------------------------------------------------------------------------------


def test_visualization_settings_use_result_column_names():
    bubble = visualization_settings(CARDS["product_performance/rating_vs_sales"])
    assert bubble["graph.dimensions"] == ["rating_rate"]
    assert bubble["graph.metrics"] == ["units_sold"]
    assert bubble["scatter.bubble"] == "revenue"
    assert column_key("rating_count") in bubble["graph.tooltip_columns"]
    assert column_key("revenue") == '["name","revenue"]'
    revenue = bubble["column_settings"]['["name","revenue"]']
    assert revenue["number_style"] == "currency" and revenue["currency"] == "USD"

    trend = visualization_settings(CARDS["executive/revenue_trend_12m"])
    assert trend["graph.x_axis.title_text"] == "Month"
    assert trend["graph.y_axis.title_text"] == "Revenue (USD)"
    assert trend["graph.x_axis.scale"] == "timeseries"
    assert trend["series_settings"]["revenue"]["color"] == "#509EE3"

    growth = visualization_settings(CARDS["executive/last_month_revenue"])
    assert growth["column_settings"]['["name","mom_growth"]']["number_style"] == "percent"

    inventory = visualization_settings(CARDS["product_performance/slow_moving_inventory"])
    rules = {r["value"]: r["color"] for r in inventory["table.column_formatting"]}
    assert rules == {"slow-moving": "#ED6E6E", "watch": "#F9A846", "healthy": "#84BB4C"}
    assert all(r["columns"] == ["inventory_status"] for r in inventory["table.column_formatting"])

    donut = visualization_settings(CARDS["customer_analytics/value_segments"])
    assert (donut["pie.dimension"], donut["pie.metric"]) == ("value_segment", "customers")

    funnel = visualization_settings(CARDS["traffic/funnel_conversion"])
    assert (funnel["funnel.dimension"], funnel["funnel.metric"]) == ("step_name", "sessions")


def test_card_payload_is_the_legacy_native_form():
    payload = card_payload(CARDS["executive/total_revenue"], database_id=7, collection_id=3)
    assert payload["dataset_query"] == {
        "type": "native",
        "native": {"query": CARDS["executive/total_revenue"].sql, "template-tags": {}},
        "database": 7,
    }
    assert payload["display"] == "scalar" and payload["collection_id"] == 3


def test_native_sql_reads_both_query_shapes():
    legacy = {"type": "native", "native": {"query": "select 1"}, "database": 2}
    mbql5 = {
        "lib/type": "mbql/query",
        "database": 2,
        "stages": [{"lib/type": "mbql.stage/native", "native": "select 1"}],
    }
    assert native_sql(legacy) == native_sql(mbql5) == ("select 1", 2)


# --- the double is strict where Metabase is --------------------------------------------------------


def test_double_requires_the_session_header(double):
    assert requests.get(f"{double.url}/api/database", timeout=5).status_code == 401
    assert requests.get(f"{double.url}/api/database", timeout=5).text == "Unauthenticated"


def test_double_rejects_what_metabase_rejects(double):
    run(double)
    session = requests.post(f"{double.url}/api/session", json={"username": ADMIN[0], "password": ADMIN[1]}, timeout=5)
    headers = {"X-Metabase-Session": session.json()["id"]}
    base = double.url
    listing = requests.get(f"{base}/api/database", headers=headers, timeout=5).json()
    assert set(listing) == {"data", "total"} and listing["total"] == 1
    assert listing["data"][0]["details"]["password"] == "**MetabasePass**"
    removed = requests.post(f"{base}/api/dashboard/1/cards", json={"cardId": 1}, headers=headers, timeout=5)
    assert removed.status_code == 404
    missing = requests.post(f"{base}/api/card", json={"name": "x", "dataset_query": {}}, headers=headers, timeout=5)
    assert missing.status_code == 400 and "display" in missing.json()["errors"]
    # The token is checked before "a user exists": a stale token is a 400, not a 403.
    setup_again = requests.post(f"{base}/api/setup", json={"token": "wrong"}, timeout=5)
    assert setup_again.status_code == 400 and "token" in setup_again.json()["errors"]
    legacy = requests.get(f"{base}/api/card/1", params={"legacy-mbql": "true"}, headers=headers, timeout=5)
    assert legacy.json()["dataset_query"]["type"] == "native"


def test_double_dashcards_put_replaces_the_list(double):
    run(double)
    (dashboard_id, dashboard) = next(iter(double.dashboards.items()))
    keep = dashboard["dashcards"][0]
    session = requests.post(f"{double.url}/api/session", json={"username": ADMIN[0], "password": ADMIN[1]}, timeout=5)
    answer = requests.put(
        f"{double.url}/api/dashboard/{dashboard_id}",
        json={"dashcards": [{k: keep[k] for k in ("id", "card_id", "row", "col", "size_x", "size_y")}], "tabs": []},
        headers={"X-Metabase-Session": session.json()["id"]},
        timeout=5,
    )
    assert answer.status_code == 200
    assert [d["id"] for d in answer.json()["dashcards"]] == [keep["id"]]


def test_double_rejects_a_wrong_setup_token():
    with MetabaseDouble() as mb:
        answer = requests.post(
            f"{mb.url}/api/setup",
            json={"token": "nope", "user": {"email": "a@b.c", "password": "x1x1x1x1"}, "prefs": {"site_name": "s"}},
            timeout=5,
        )
    assert answer.status_code == 400
    assert answer.json()["errors"]["token"] == "Token does not match the setup token."


def session_headers(mb: MetabaseDouble) -> dict[str, str]:
    answer = requests.post(f"{mb.url}/api/session", json={"username": ADMIN[0], "password": ADMIN[1]}, timeout=5)
    return {"X-Metabase-Session": answer.json()["id"]}


# --- the known defects, fixed ----------------------------------------------------------------------


def test_dashboard_tabs_survive_an_update(double, tmp_path):
    root = tmp_path / "metabase"
    shutil.copytree(DEFAULT_ROOT, root)
    run(double, root)
    (traffic,) = [d for d in double.dashboards.values() if d["name"] == "Traffic"]
    tab_id = double.add_tab(traffic["id"], "Overview")
    path = root / "dashboards" / "traffic.yml"
    path.write_text(
        path.read_text().replace(
            "{card: customer_segment_history, row: 14, col: 0, size_x: 24, size_y: 6}",
            "{card: customer_segment_history, row: 20, col: 0, size_x: 24, size_y: 8}",
        )
    )
    double.clear_requests()
    run(double, root)
    (put,) = double.calls("PUT", rf"/api/dashboard/{traffic['id']}")
    assert put.body["tabs"] == [{"id": tab_id, "name": "Overview"}]
    stored = double.dashboards[traffic["id"]]
    assert [t["id"] for t in stored["tabs"]] == [tab_id]
    assert {d["dashboard_tab_id"] for d in stored["dashcards"]} == {tab_id}
    assert double.stranded_dashcards() == []
    assert errors_of(double) == []


def test_double_strands_dashcards_when_tabs_are_omitted(double):
    # What Metabase does to a PUT that leaves `tabs` out: the tabs go, the dashcards point nowhere.
    run(double)
    dashboard_id, dashboard = next(iter(double.dashboards.items()))
    tab_id = double.add_tab(dashboard_id, "Only tab")
    cards = [
        {k: d[k] for k in ("id", "card_id", "row", "col", "size_x", "size_y", "dashboard_tab_id")}
        for d in dashboard["dashcards"]
    ]
    headers = session_headers(double)
    without_tab = [{k: v for k, v in c.items() if k != "dashboard_tab_id"} for c in cards]
    refused = requests.put(
        f"{double.url}/api/dashboard/{dashboard_id}", json={"dashcards": without_tab}, headers=headers, timeout=5
    )
    assert refused.status_code == 400 and "tab" in refused.json()["message"]
    answer = requests.put(
        f"{double.url}/api/dashboard/{dashboard_id}", json={"dashcards": cards}, headers=headers, timeout=5
    )
    assert answer.status_code == 200
    assert double.dashboards[dashboard_id]["tabs"] == []
    assert {d["dashboard_tab_id"] for d in double.stranded_dashcards()} == {tab_id}


@pytest.mark.parametrize("clears_token", [True, False], ids=["token-cleared", "token-kept"])
def test_setup_raced_by_another_process_logs_in(clears_token):
    with MetabaseDouble(clear_token_on_setup=clears_token) as mb:
        mb.race_setup_after_next_properties(*ADMIN)
        report = run(mb)
        (setup,) = mb.calls("POST", r"/api/setup")
        # 0.61.4+ clears the token, so the late setup fails the token check (400); before, 403.
        assert setup.status == (400 if clears_token else 403)
        assert not report.setup_performed
        assert len(mb.calls("POST", r"/api/session")) == 1
        assert len(mb.cards) == CARD_COUNT


def test_unreachable_warehouse_at_sync_is_a_clear_error(double):
    run(double)
    double.connection_check = lambda details: f"Connection refused: {details['host']}:{details['port']}"
    double.clear_requests()
    with pytest.raises(MetabaseError) as info:
        run(double)
    (sync,) = double.calls("POST", r"/api/database/\d+/sync_schema")
    assert sync.status == 422
    message = str(info.value)
    assert "metabase_reader@warehouse.internal:5432/warehouse" in message
    assert "Connection refused" in message


def test_blank_card_description_is_refused_before_any_request(double, tmp_path):
    root = tmp_path / "metabase"
    shutil.copytree(DEFAULT_ROOT, root)
    path = root / "cards" / "traffic" / "device_types.yml"
    path.write_text(path.read_text().replace("description: Distinct sessions per device type.", 'description: " "'))
    with pytest.raises(MetabaseError) as info:
        run(double, root)
    assert str(path) in str(info.value) and "blank card description" in str(info.value)
    assert double.requests == []


def test_double_refuses_a_blank_description_and_undeclared_keys(double):
    run(double)
    headers = session_headers(double)
    (card,) = [c for c in double.cards.values() if c["name"] == "Total orders"]
    body = {
        "name": "x",
        "display": "scalar",
        "visualization_settings": {},
        "dataset_query": {"type": "native", "native": {"query": "select 1"}, "database": card["database_id"]},
    }
    blank = requests.post(f"{double.url}/api/card", json={**body, "description": "  "}, headers=headers, timeout=5)
    assert blank.status_code == 400 and "description" in blank.json()["errors"]
    extra = requests.post(f"{double.url}/api/card", json={**body, "color": "#fff"}, headers=headers, timeout=5)
    assert extra.status_code == 400 and "color" in extra.json()["errors"]
    assert requests.post(f"{double.url}/api/card", json=body, headers=headers, timeout=5).status_code == 200


def test_pie_slices_keep_the_yaml_order_and_colours():
    donut = visualization_settings(CARDS["customer_analytics/value_segments"])
    assert "pie.colors" not in donut  # legacy: read by Metabase, never written
    assert donut["pie.sort_rows"] is False
    assert [(r["key"], r["color"]) for r in donut["pie.rows"]] == [
        ("VIP", "#7172AD"),
        ("High", "#509EE3"),
        ("Medium", "#88BF4D"),
        ("Low", "#C7D0D9"),
    ]
    assert all(r["enabled"] and not r["hidden"] and not r["defaultColor"] for r in donut["pie.rows"])
    devices = visualization_settings(CARDS["traffic/device_types"])
    assert devices["pie.sort_rows"] is True and "pie.rows" not in devices


def test_provisioning_waits_for_metabase_to_start():
    with MetabaseDouble(initializing_polls=2) as mb:
        client = MetabaseClient(mb.url)
        wait_until_ready(client, timeout=10, interval=0.01)
        assert [r.status for r in mb.calls("GET", r"/api/health")] == [503, 503, 200]
        report = run(mb)
    assert len(report.cards) == CARD_COUNT


def test_metabase_that_never_starts_is_a_clear_error():
    now = [0.0]
    with MetabaseDouble(initializing_polls=1000) as mb:
        client = MetabaseClient(mb.url)
        with pytest.raises(MetabaseUnreachable) as info:
            wait_until_ready(
                client, timeout=30, interval=10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
            )
        assert len(mb.calls("GET", r"/api/health")) == 4  # at 0, 10, 20 and 30 s
    assert "not ready after 30 s" in str(info.value) and "initializing" in str(info.value)


def test_default_metabase_url_is_the_port_compose_publishes():
    compose = (Path(__file__).resolve().parents[1] / "docker-compose.yml").read_text()
    port = re.search(r"127\.0\.0\.1:\$\{METABASE_HOST_PORT:-(\d+)\}:3000", compose).group(1)
    assert f"http://127.0.0.1:{port}" == DEFAULT_METABASE_URL


def test_every_request_provisioning_sends_is_accepted_by_the_strict_double(double):
    run(double)
    run(double)
    assert errors_of(double) == []


def test_public_url_is_what_the_report_shows(double):
    env = {
        "METABASE_URL": double.url,
        "METABASE_PUBLIC_URL": "http://127.0.0.1:13000/",
        "METABASE_ADMIN_EMAIL": ADMIN[0],
        "METABASE_ADMIN_PASSWORD": ADMIN[1],
        "METABASE_DB_PASSWORD": "s3cret-reader",
        "METABASE_READY_TIMEOUT": "5",
    }
    report = provision_from_settings(
        MetabaseSettings.from_env(env), "postgresql://owner@127.0.0.1:55432/warehouse", DASHBOARDS
    )
    assert report.metabase_url == "http://127.0.0.1:13000"
    assert all(d.url.startswith("http://127.0.0.1:13000/dashboard/") for d in report.dashboards)
    with pytest.raises(ConfigError, match="METABASE_READY_TIMEOUT='soon'"):
        MetabaseSettings.from_env({**env, "METABASE_READY_TIMEOUT": "soon"})
