"""Session fixtures: an isolated stack of the real embedded services, started once per test session."""

from __future__ import annotations

import logging
import os
import random
import shutil
import socket
import socketserver
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopflow.config import Settings, load_settings
from shopflow.services.manager import services_down, services_up


def _log_failed_request(self, request, client_address) -> None:
    logging.getLogger("tests.http").warning("request from %s failed", client_address, exc_info=True)


# The tests' HTTP servers (the Metabase double, webhook receivers, stubs) run in threads of the test
# process. socketserver prints a failed request's traceback to stderr, which lands in whatever a test
# is capturing at that moment (a CLI test's output, once on CI); logging keeps it with the report.
socketserver.BaseServer.handle_error = _log_failed_request  # type: ignore[method-assign]

# Variables that would point the tests at external services or another state dir.
ISOLATED_VARS = (
    "SHOP_DSN",
    "WAREHOUSE_DSN",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "S3_ENDPOINT_URL",
    "FAKESTORE_API_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "LAKE_BUCKET",
    "SHOPFLOW_STATE_DIR",
    "SHOPFLOW_PG_PORT",
    "SHOPFLOW_S3_PORT",
    "SHOPFLOW_API_PORT",
)


# `make test` runs two xdist workers with --dist loadfile: each file stays on one worker, so its module
# fixtures are built once. A session fixture that is costly to build would be built once per worker
# that asks for it, so the files sharing one are scheduled as one unit (`pytest_xdist_make_scheduler`):
# the demo pipeline (`demo_run`) and the image install (`image_root`).
SHARED_SESSION_FILES = {
    "demo_run": (
        {"demo_run", "built_warehouse"},
        {
            "tests/test_end_to_end.py",
            "tests/test_dashboards_browser.py",
            "tests/test_dashboards_warehouse.py",
            "tests/test_pii.py",
        },
    ),
    "image_root": ({"image_root"}, {"tests/test_image_install.py", "tests/test_compose_rehearsal.py"}),
}


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by these marks
def pytest_collection_modifyitems(config, items):
    # Tiers by cost: `e2e` (marked slow: whole pipelines, Airflow, the browser), `integration` (the
    # real services of the session stack), `unit` (neither). `make test-fast` runs unit + integration.
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.e2e)
        elif "stack" in fixtures:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
    for group, (fixtures, files) in SHARED_SESSION_FILES.items():
        strays = sorted(
            {
                item.nodeid.split("::", 1)[0]
                for item in items
                if fixtures & set(getattr(item, "fixturenames", ())) and item.nodeid.split("::", 1)[0] not in files
            }
        )
        if strays:
            raise pytest.UsageError(
                f"{', '.join(strays)} use {group}: add them to SHARED_SESSION_FILES in tests/conftest.py"
            )


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when xdist is off (TEST_WORKERS=0)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedFixturesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return next((group for group, (_, files) in SHARED_SESSION_FILES.items() if scope in files), scope)

    return SharedFixturesTogether(config, log)


def _block_is_free(base: int, size: int) -> bool:
    for port in range(base, base + size):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_block(size: int = 1) -> int:
    """The first port of `size` consecutive free ports, picked at random in 20000-39999."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000 - size)
        if _block_is_free(base, size):
            return base
    raise RuntimeError("no free port block found")


def make_state_dir(prefix: str) -> Path:
    # Under /tmp and world-searchable: as root, PostgreSQL runs as 'nobody' and must reach it.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def stack_environment(state_dir: Path) -> dict[str, str]:
    """Environment variables for an isolated embedded stack in `state_dir` on free ports."""
    return {
        "SHOPFLOW_STATE_DIR": str(state_dir),
        "SHOPFLOW_PG_PORT": str(free_port_block()),
        "SHOPFLOW_S3_PORT": str(free_port_block(10)),
        "SHOPFLOW_API_PORT": str(free_port_block()),
    }


@pytest.fixture(scope="session")
def stack() -> Iterator[Settings]:
    """Settings of a running embedded stack (PostgreSQL, S3, FakeStore API) private to this session.

    The variables are exported for the whole session, so code that calls load_settings() itself
    (CLI commands, pipeline functions) uses this stack too.
    """
    saved = {name: os.environ.pop(name, None) for name in ISOLATED_VARS}
    state_dir = make_state_dir("shopflow-test-stack-")
    os.environ.update(stack_environment(state_dir))
    settings = load_settings()
    services_up(settings)
    try:
        yield settings
    finally:
        services_down(settings)
        shutil.rmtree(state_dir, ignore_errors=True)
        for name in ISOLATED_VARS:
            os.environ.pop(name, None)
        os.environ.update({k: v for k, v in saved.items() if v is not None})


def _admin_execute(settings: Settings, statement: str) -> None:
    import psycopg2

    conn = psycopg2.connect(settings.embedded_dsn("postgres"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@pytest.fixture(scope="session")
def isolated_settings(stack):
    """Factory: Settings with their own shop and warehouse databases and lake bucket on the session stack.

    Tests that build data use it so they never see each other's rows; everything is dropped at the end.
    """
    import uuid

    from shopflow.lake import Lake
    from shopflow.services.s3 import ensure_bucket, s3_client

    created: list[Settings] = []

    def make(name: str) -> Settings:
        tag = f"{name}_{uuid.uuid4().hex[:6]}".lower()
        for db in (f"{tag}_shop", f"{tag}_warehouse"):
            _admin_execute(stack, f'create database "{db}"')
        settings = stack.replace(
            shop_dsn_external=stack.embedded_dsn(f"{tag}_shop"),
            warehouse_dsn_external=stack.embedded_dsn(f"{tag}_warehouse"),
            lake_bucket=tag.replace("_", "-"),
        )
        ensure_bucket(settings)
        created.append(settings)
        return settings

    yield make
    for settings in created:
        lake = Lake(s3_client(settings), settings.lake_bucket)
        lake.delete_keys(lake.list_keys(""))
        lake.client.delete_bucket(Bucket=settings.lake_bucket)
        for dsn in (settings.shop_dsn, settings.warehouse_dsn):
            _admin_execute(stack, f'drop database if exists "{dsn.rsplit("/", 1)[1]}" with (force)')


# The end-to-end dataset: a year of history at reduced scale, the last days replayed through the
# whole pipeline (extract, gate, load), dbt, mart checks, Data Docs and dashboards.
E2E_END = __import__("datetime").date(2025, 6, 30)
E2E_DAYS = 4
E2E_SCALE = 0.5


@pytest.fixture(scope="session")
def demo_run(isolated_settings):
    """(settings, DemoReport) of the demo pipeline run once on isolated databases and bucket."""
    from shopflow.demo import run_demo

    settings = isolated_settings("built").with_simulation(scale=E2E_SCALE, seed=11)
    report = run_demo(settings, end=E2E_END, days=E2E_DAYS, announce=lambda _s: None)
    return settings, report


@pytest.fixture(scope="session")
def built_warehouse(demo_run):
    """Settings whose warehouse holds the demo pipeline's raw tables and dbt marts."""
    return demo_run[0]


@pytest.fixture(scope="session")
def image_root(tmp_path_factory) -> Path:
    """/opt/shopflow of the image, rehearsed: the locked install (build stage) and the runtime copies.

    Session-wide so the install runs once for tests/test_image_install.py and the compose rehearsal.
    """
    from tests.image_build import copy_runtime_files, install_locked_environment

    build = tmp_path_factory.mktemp("image") / "opt-shopflow"
    install_locked_environment(build)
    copy_runtime_files(build)
    return build
