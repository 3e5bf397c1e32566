"""The embedded services start, answer, survive restarts and fail clearly."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess

import boto3
import psycopg2
import pytest
import requests
from botocore.exceptions import ClientError

from shopflow.config import load_settings
from shopflow.services.manager import embedded_services, env_exports, services_down, services_status, services_up
from shopflow.services.process import ServiceError, pid_alive, port_is_free, wait_until
from shopflow.services.s3 import s3_client
from tests.conftest import make_state_dir, stack_environment


@pytest.fixture
def private_stack(monkeypatch):
    """A second, throwaway stack for lifecycle tests (the session stack stays untouched)."""
    state_dir = make_state_dir("shopflow-test-private-")
    for name, value in stack_environment(state_dir).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    yield settings
    services_down(settings)
    shutil.rmtree(state_dir, ignore_errors=True)


def test_postgres_round_trip_in_every_database(stack):
    for dsn in (stack.shop_dsn, stack.warehouse_dsn, stack.embedded_dsn(stack.airflow_db)):
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("create temp table t (x int); insert into t values (41); select x + 1 from t")
            assert cur.fetchone() == (42,)
            cur.execute("select current_database()")
            assert cur.fetchone()[0] == dsn.rsplit("/", 1)[1]


def test_postgres_listens_on_loopback_only(stack):
    with psycopg2.connect(stack.warehouse_dsn) as conn, conn.cursor() as cur:
        cur.execute("show listen_addresses")
        assert cur.fetchone()[0] == "127.0.0.1"


def test_s3_put_get_list_and_wrong_secret_rejected(stack):
    client = s3_client(stack)
    client.put_object(Bucket=stack.lake_bucket, Key="tests/hello.txt", Body=b"hello lake")
    try:
        body = client.get_object(Bucket=stack.lake_bucket, Key="tests/hello.txt")["Body"].read()
        assert body == b"hello lake"
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=stack.lake_bucket, Prefix="tests/")["Contents"]]
        assert keys == ["tests/hello.txt"]
        intruder = boto3.client(
            "s3",
            endpoint_url=stack.s3_endpoint_url,
            aws_access_key_id=stack.s3_access_key,
            aws_secret_access_key="wrong-secret",
            region_name=stack.s3_region,
        )
        with pytest.raises(ClientError) as err:
            intruder.get_object(Bucket=stack.lake_bucket, Key="tests/hello.txt")
        assert err.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId")
    finally:
        client.delete_object(Bucket=stack.lake_bucket, Key="tests/hello.txt")


def test_fakestore_api_serves_the_catalog(stack):
    base = stack.fakestore_api_url
    products = requests.get(f"{base}/products", timeout=5).json()
    assert [p["id"] for p in products] == list(range(1, 21))
    assert {"id", "title", "price", "description", "category", "image", "rating"} <= set(products[0])
    assert set(products[0]["rating"]) == {"rate", "count"}
    assert requests.get(f"{base}/products/7", timeout=5).json()["id"] == 7
    assert requests.get(f"{base}/products/999", timeout=5).status_code == 404
    assert requests.get(f"{base}/products/categories", timeout=5).json() == [
        "electronics",
        "jewelery",
        "men's clothing",
        "women's clothing",
    ]
    jewelery = requests.get(f"{base}/products/category/jewelery", timeout=5).json()
    assert jewelery and {p["category"] for p in jewelery} == {"jewelery"}
    limited = requests.get(f"{base}/products", params={"limit": 5, "sort": "desc"}, timeout=5).json()
    assert [p["id"] for p in limited] == [20, 19, 18, 17, 16]
    assert requests.get(f"{base}/products", params={"sort": "sideways"}, timeout=5).status_code == 400


def test_second_start_is_a_no_op(stack):
    pids_before = {svc.name: getattr(svc, "pid", lambda: None)() for svc in embedded_services(stack)}
    states = services_up(stack)
    assert {s.name: s.state for s in states} == {"postgres": "reused", "s3": "reused", "api": "reused"}
    pids_after = {svc.name: getattr(svc, "pid", lambda: None)() for svc in embedded_services(stack)}
    assert pids_after == pids_before


def test_env_exports_point_at_the_running_services(stack):
    exports = dict(line.removeprefix("export ").split("=", 1) for line in env_exports(stack))
    assert exports["PGPORT"] == str(stack.pg_port)
    # dbt's profile (and SQLFluff's dbt templater in `make lint`) follow a moved port too.
    assert (exports["DBT_PG_PORT"], exports["DBT_PG_DBNAME"]) == (str(stack.pg_port), "warehouse")
    assert exports["AWS_ENDPOINT_URL_S3"] == stack.s3_endpoint_url
    env = {**os.environ, **{k: v.strip("'") for k, v in exports.items()}}
    psql = shutil.which("psql")
    if psql:  # Debian's client is on the image; a libpq round trip proves the variables are complete
        out = subprocess.run([psql, "-Atc", "select current_database()"], env=env, capture_output=True, text=True)
        assert out.stdout.strip() == "warehouse", out.stderr


@pytest.mark.slow
def test_restart_keeps_data_and_stop_frees_ports(private_stack):
    settings = private_stack
    assert {s.state for s in services_up(settings)} == {"started"}
    with psycopg2.connect(settings.warehouse_dsn) as conn, conn.cursor() as cur:
        cur.execute("create table kept (x int); insert into kept values (7)")
    s3_client(settings).put_object(Bucket=settings.lake_bucket, Key="kept.txt", Body=b"still here")

    services_down(settings)
    ports = [settings.pg_port, settings.api_port, *range(settings.s3_port, settings.s3_port + 10)]
    assert all(port_is_free(settings.host, p) for p in ports)
    assert {s.state for s in services_status(settings)} == {"not running"}

    assert {s.state for s in services_up(settings)} == {"started"}
    with psycopg2.connect(settings.warehouse_dsn) as conn, conn.cursor() as cur:
        cur.execute("select x from kept")
        assert cur.fetchone() == (7,)
    assert s3_client(settings).get_object(Bucket=settings.lake_bucket, Key="kept.txt")["Body"].read() == b"still here"


@pytest.mark.slow
def test_crashed_services_are_detected_and_restarted(private_stack):
    settings = private_stack
    services_up(settings)
    api, s3 = (svc for svc in embedded_services(settings) if svc.name in ("api", "s3"))
    api_pid, s3_pid = api.pid(), s3.pid()
    os.kill(api_pid, signal.SIGKILL)
    os.killpg(s3_pid, signal.SIGKILL)
    postmaster_pid = int((settings.state_dir / "postgres/data/postmaster.pid").read_text().split()[0])
    os.kill(postmaster_pid, signal.SIGKILL)
    for pid in (api_pid, s3_pid, postmaster_pid):  # SIGKILL is delivered asynchronously
        wait_until(lambda pid=pid: not pid_alive(pid), 10, f"pid {pid} to die")
    states = {s.name: s.state for s in services_status(settings)}
    assert states == {"postgres": "not running", "s3": "not running", "api": "not running"}

    states = {s.name: s.state for s in services_up(settings)}
    assert states == {"postgres": "restarted", "s3": "restarted", "api": "restarted"}
    assert requests.get(f"{settings.fakestore_api_url}/products/1", timeout=5).status_code == 200
    with psycopg2.connect(settings.shop_dsn) as conn, conn.cursor() as cur:
        cur.execute("select 1")
        assert cur.fetchone() == (1,)


def test_busy_port_gives_a_clear_error(private_stack, monkeypatch):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    busy = blocker.getsockname()[1]
    try:
        monkeypatch.setenv("SHOPFLOW_API_PORT", str(busy))
        monkeypatch.setenv("SHOP_DSN", "postgresql://u:p@127.0.0.1:1/shop")  # skip postgres: external
        monkeypatch.setenv("WAREHOUSE_DSN", "postgresql://u:p@127.0.0.1:1/warehouse")
        monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
        with pytest.raises(ServiceError) as err:
            services_up(load_settings())
        assert f"port 127.0.0.1:{busy} is already in use" in str(err.value)
        assert "SHOPFLOW_API_PORT" in str(err.value)
    finally:
        blocker.close()


def test_external_endpoints_skip_the_embedded_services(stack, private_stack, monkeypatch):
    monkeypatch.setenv("SHOP_DSN", stack.shop_dsn)
    monkeypatch.setenv("WAREHOUSE_DSN", stack.warehouse_dsn)
    monkeypatch.setenv("S3_ENDPOINT_URL", stack.s3_endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", stack.s3_access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", stack.s3_secret_key)
    monkeypatch.setenv("FAKESTORE_API_URL", stack.fakestore_api_url)
    settings = load_settings()
    assert embedded_services(settings) == []
    states = services_up(settings)
    assert {s.mode for s in states} == {"external"} and {s.state for s in states} == {"external"}
    assert not (settings.state_dir / "postgres").exists()
    assert not (settings.run_dir / "s3.pid").exists() and not (settings.run_dir / "api.pid").exists()
    assert settings.shop_dsn == stack.shop_dsn and settings.fakestore_api_url == stack.fakestore_api_url


def test_half_configured_external_postgres_is_rejected(monkeypatch):
    monkeypatch.setenv("SHOP_DSN", "postgresql://u:p@db.example:5432/shop")
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    with pytest.raises(ValueError, match="WAREHOUSE_DSN is not set"):
        load_settings()


def test_external_s3_without_keys_uses_the_default_credential_chain(monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT_URL", "https://s3.eu-west-1.amazonaws.com")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    settings = load_settings()
    assert not settings.embedded_s3 and settings.s3_access_key is None and settings.s3_secret_key is None
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "only-half")
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY is not set but its pair is"):
        load_settings()


def test_a_bad_port_variable_is_named(monkeypatch):
    monkeypatch.setenv("SHOPFLOW_PG_PORT", "fifty")
    with pytest.raises(ValueError, match="SHOPFLOW_PG_PORT='fifty': Input should be a valid integer"):
        load_settings()
