"""Run Airflow on this machine against the embedded services: `shopflow airflow up`.

Airflow's home lives in the state dir (.local/airflow), its metadata in the embedded PostgreSQL's
`airflow` database, tasks run with the LocalExecutor. The api-server, scheduler, dag-processor and
triggerer run as child processes of one supervisor that stops them all on Ctrl-C or SIGTERM. Every
setting is an environment variable, so `shopflow airflow env` can print the same set for the
`airflow` CLI (`airflow dags trigger`, `airflow backfill create`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

from shopflow import config, lineage
from shopflow.config import PROJECT_ROOT, AirflowSettings, ConfigError, Settings, SimulationSettings, variable_name
from shopflow.services.process import ServiceError, port_is_free
from shopflow.telemetry import USAGE_TELEMETRY_OFF

PORT_ENV = variable_name(AirflowSettings, "port")
START_DATE_ENV = variable_name(AirflowSettings, "start_date_override")
SIMULATE_SOURCES_ENV = variable_name(SimulationSettings, "simulate_sources")
PARALLELISM = 4
ADMIN_USER = "admin"
DAGS_DIR = PROJECT_ROOT / "dags"
# Every component on one machine reads task logs from the shared log folder, so the scheduler and the
# triggerer need not serve them over HTTP (their log servers would bind every interface).
# The DAG processor starts through dags/_dag_processor.py (dags/ is on PYTHONPATH), which loads what its
# forked parses share before Airflow's `dag-processor` command runs.
COMPONENT_COMMANDS = {
    "scheduler": ["airflow", "scheduler", "--skip-serve-logs"],
    "dag-processor": [sys.executable, "-m", "_dag_processor"],
    "triggerer": ["airflow", "triggerer", "--skip-serve-logs"],
    "api-server": ["airflow", "api-server"],
}
COMPONENTS = tuple(COMPONENT_COMMANDS)
# Without SHOPFLOW_START_DATE, a local Airflow starts this many days before its first launch:
# unpausing the DAGs then loads a few days, not every day since the default start date.
LOCAL_HISTORY_DAYS = 3
START_DATE_FILE = "shopflow_start_date"
HEALTH_PATH = "/api/v2/monitor/health"


@dataclass(frozen=True)
class LocalAirflow:
    """Where the local Airflow keeps its files and which environment its processes get."""

    settings: Settings
    port: int
    home: Path
    logs_dir: Path
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    @property
    def bin_dir(self) -> Path:
        """The venv's bin: Airflow starts task and component processes as `airflow`."""
        return Path(sys.executable).parent


def _lake_connection(settings: Settings) -> str:
    return config.aws_connection_json(
        settings.s3_region, settings.s3_endpoint_url, settings.s3_access_key, settings.s3_secret_key
    )


def ensure_start_date(settings: Settings, today: date | None = None) -> date:
    """The local DAGs' start date: SHOPFLOW_START_DATE if set, else the one fixed at the first launch.

    A first launch without SHOPFLOW_START_DATE fixes it at 3 days before `today` and keeps it in
    the Airflow home, so it never moves afterwards (a DAG's start_date must stay put once runs exist).
    """
    if settings.airflow.start_date_override:
        return settings.airflow.start_date_override
    path = settings.state_dir / "airflow" / START_DATE_FILE
    if path.exists():
        raw = path.read_text().strip()
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise ConfigError(f"{path} holds {raw!r}, not a date (YYYY-MM-DD); fix or delete it") from None
    day = (today or datetime.now(UTC).date()) - timedelta(days=LOCAL_HISTORY_DAYS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(day.isoformat() + "\n")
    return day


def local_airflow(settings: Settings, start: date | None = None) -> LocalAirflow:
    """The local Airflow of these settings: paths and the AIRFLOW__* environment of every component.

    `start` is the daily DAGs' start date (see `ensure_start_date`); by default SHOPFLOW_START_DATE or 2026-01-01.
    """
    start = start or settings.airflow.start_date
    port = settings.airflow.port
    simulated = settings.simulation.simulate_sources
    home = settings.state_dir / "airflow"
    logs_dir = settings.logs_dir / "airflow"
    url = f"http://127.0.0.1:{port}"
    values = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # 2 shared cores: the default of 32 LocalExecutor workers would take about 1 GB for nothing.
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
        # Catchup starts at each DAG's start_date: nothing runs until a DAG is unpaused on purpose.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_sqlalchemy_conn,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(logs_dir / "tasks"),
        "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY": str(logs_dir / "dag-processor"),
        # Edited DAG files show up within 30 s instead of 5 minutes.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # The shop and clickstream here are the simulator; simulate_shop exists only with this set.
        SIMULATE_SOURCES_ENV: "false" if simulated is False else "true",
        "SHOPFLOW_STATE_DIR": str(settings.state_dir),
        START_DATE_ENV: start.isoformat(),
        # The triggerer imports the transform DAG's model trigger (dags/_dbt_watcher.py) by its path, and
        # only the DAG processor and the task processes put the DAG folder on sys.path themselves.
        "PYTHONPATH": str(DAGS_DIR),
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
        # The watcher producer would otherwise rewrite a Variable holding every model's status after
        # each dbt node (for a retry after a hard kill); without it a graceful failure still keeps them.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        # No usage telemetry from Airflow, Cosmos (its DAG-run listener runs in the scheduler), dbt, GX.
        **USAGE_TELEMETRY_OFF,
        # OpenLineage events of every task, DAG run and dbt model: the state dir's file, or
        # SHOPFLOW_LINEAGE_URL (Marquez) when set (shopflow.lineage).
        **lineage.airflow_environment(settings),
        # The same connections the container entrypoint derives, for hooks and the UI.
        "AIRFLOW_CONN_SHOPFLOW_SHOP": settings.shop_dsn,
        "AIRFLOW_CONN_SHOPFLOW_WAREHOUSE": settings.warehouse_dsn,
        "AIRFLOW_CONN_SHOPFLOW_LAKE": _lake_connection(settings),
    }
    return LocalAirflow(settings, port, home, logs_dir, values)


def env_exports(airflow: LocalAirflow) -> list[str]:
    """`export NAME=value` lines that point the `airflow` CLI at the local Airflow."""
    lines = [
        f"export {name}={shlex.quote(value)}" for name, value in airflow.environment.items() if name != "PYTHONPATH"
    ]
    lines.append(f'export PYTHONPATH={shlex.quote(airflow.environment["PYTHONPATH"])}"${{PYTHONPATH:+:$PYTHONPATH}}"')
    lines.append(f'export PATH={shlex.quote(str(airflow.bin_dir))}:"$PATH"')
    return lines


def process_environment(airflow: LocalAirflow, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The full environment of a component: ours over the caller's, with the venv's bin first on PATH."""
    env = dict(config.process_environment() if base is None else base)
    callers_path = env.get("PYTHONPATH")
    env.update(airflow.environment)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [airflow.environment["PYTHONPATH"], callers_path]))
    env["PATH"] = f"{airflow.bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def admin_password(airflow: LocalAirflow) -> str:
    """The admin's password: generated once into SimpleAuthManager's passwords file, then reused."""
    path = airflow.passwords_file
    if path.exists():
        try:
            passwords = json.loads(path.read_text() or "{}")
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path} is not valid JSON ({err}); delete it to generate a new password") from None
        if passwords.get(ADMIN_USER):
            return passwords[ADMIN_USER]
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({ADMIN_USER: password}) + "\n")
    return password


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def migrate(airflow: LocalAirflow) -> float:
    """`airflow db migrate` (idempotent); returns the seconds it took."""
    airflow.logs_dir.mkdir(parents=True, exist_ok=True)
    airflow.home.mkdir(parents=True, exist_ok=True)
    log = airflow.logs_dir / "db-migrate.log"
    started = time.monotonic()
    with open(log, "ab") as out:
        code = subprocess.call(
            ["airflow", "db", "migrate"],
            env=process_environment(airflow),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    if code != 0:
        raise ServiceError(f"airflow db migrate failed (exit {code}); see {log}:\n{_tail(log)}")
    return time.monotonic() - started


@contextlib.contextmanager
def single_instance(airflow: LocalAirflow) -> Iterator[None]:
    """Hold a lock for the lifetime of the supervisor: two schedulers on one metadata DB would fight."""
    airflow.settings.run_dir.mkdir(parents=True, exist_ok=True)
    lock_path = airflow.settings.run_dir / "airflow.lock"
    with open(lock_path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(
                f"a local Airflow already runs for {airflow.settings.state_dir} (lock {lock_path}); "
                "stop it with Ctrl-C in its terminal first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Child:
    name: str
    process: subprocess.Popen
    log: Path
    handle: IO[bytes]


def _start(airflow: LocalAirflow, name: str, env: dict[str, str]) -> _Child:
    log = airflow.logs_dir / f"{name}.log"
    handle = open(log, "ab")  # noqa: SIM115 - kept open for the child's lifetime, closed in _stop
    # Own session: Ctrl-C reaches only the supervisor, which then stops children in order.
    process = subprocess.Popen(
        COMPONENT_COMMANDS[name],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return _Child(name, process, log, handle)


def _stop(children: list[_Child], timeout: float = 30.0) -> None:
    """SIGTERM every child's process group, wait, then SIGKILL what is left."""
    for child in children:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
        # Task processes the LocalExecutor forked share the group; none may outlive the supervisor.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        child.handle.close()


def health(airflow: LocalAirflow, timeout: float = 2.0) -> dict | None:
    """The api-server's health document, or None while it does not answer."""
    try:
        with urllib.request.urlopen(airflow.url + HEALTH_PATH, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _healthy(document: dict | None) -> bool:
    if not document:
        return False
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all((document.get(p) or {}).get("status") == "healthy" for p in parts)


class _Stop(Exception):
    pass


def supervise(
    airflow: LocalAirflow,
    on_ready: Callable[[float], None],
    on_stopping: Callable[[str], None],
    ready_timeout: float = 180.0,
) -> int:
    """Start the four components, call `on_ready(seconds)` once all report healthy, run until a signal.

    Returns 0 after a requested stop, 1 when a component exited on its own (its log tail is reported).
    """
    if not port_is_free("127.0.0.1", airflow.port):
        raise ServiceError(
            f"port 127.0.0.1:{airflow.port} is already in use; stop that process or set {PORT_ENV} to a free port"
        )
    airflow.logs_dir.mkdir(parents=True, exist_ok=True)
    lineage.prepare_lineage_file(airflow.settings)
    env = process_environment(airflow)

    def request_stop(signum: int, _frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[_Child] = []
    started = time.monotonic()
    ready = False
    try:
        for name in COMPONENTS:
            children.append(_start(airflow, name, env))
        while True:
            for child in children:
                code = child.process.poll()
                if code is not None:
                    on_stopping(
                        f"airflow {child.name} exited with code {code}; stopping the others. "
                        f"Last lines of {child.log}:\n{_tail(child.log)}"
                    )
                    return 1
            if not ready:
                if _healthy(health(airflow)):
                    ready = True
                    on_ready(time.monotonic() - started)
                elif time.monotonic() - started > ready_timeout:
                    logs = ", ".join(str(c.log) for c in children)
                    on_stopping(f"Airflow did not become healthy within {ready_timeout:.0f} s; see {logs}")
                    return 1
            time.sleep(1.0)
    except _Stop as stop:
        on_stopping(f"{stop} received: stopping Airflow")
        return 0
    finally:
        # A second Ctrl-C during shutdown must not leave orphans behind.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        _stop(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
