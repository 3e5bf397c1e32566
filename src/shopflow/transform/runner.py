"""Run the dbt project in `transform/` programmatically, against the warehouse from the settings.

dbt reads its connection from environment variables (transform/profiles.yml); `dbt_env` derives
them from `Settings.warehouse_dsn`, and `run_dbt` sets them for one invocation only.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dbt.cli.main import dbtRunner, dbtRunnerResult

from shopflow.config import PROJECT_ROOT, Settings, load_settings

TRANSFORM_DIR = PROJECT_ROOT / "transform"
DBT_SCHEMA = "analytics"

# dbtRunner keeps global state (flags, adapter registry, invocation context) and mutates
# os.environ here: two invocations in one process must never overlap.
_DBT_LOCK = threading.Lock()

_FAILED_STATUSES = {"error", "fail", "runtime error"}


class TransformError(RuntimeError):
    """A dbt invocation failed; the message names the failed nodes and dbt's messages."""


def dbt_env(settings: Settings) -> dict[str, str]:
    """The DBT_PG_* variables transform/profiles.yml reads, derived from `settings.warehouse_dsn`."""
    dsn = settings.warehouse_dsn
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise TransformError(
            f"warehouse DSN must be a postgresql:// URL, got scheme {parts.scheme!r} "
            "(set WAREHOUSE_DSN=postgresql://user:password@host:port/dbname)"
        )
    try:
        port = parts.port or 5432
    except ValueError:
        raise TransformError("warehouse DSN has an invalid port (check WAREHOUSE_DSN)") from None
    dbname = unquote(parts.path.lstrip("/"))
    missing = [
        name
        for name, value in (("host", parts.hostname), ("user", parts.username), ("database", dbname))
        if not value
    ]
    if missing:
        raise TransformError(
            f"warehouse DSN lacks {', '.join(missing)} "
            "(expected postgresql://user:password@host:port/dbname in WAREHOUSE_DSN)"
        )
    return {
        "DBT_PG_HOST": parts.hostname,
        "DBT_PG_PORT": str(port),
        "DBT_PG_USER": unquote(parts.username),
        "DBT_PG_PASSWORD": unquote(parts.password or ""),
        "DBT_PG_DBNAME": dbname,
        "DBT_PG_SCHEMA": DBT_SCHEMA,
    }


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of the block, then restore the previous ones."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _artifact_dirs(settings: Settings) -> tuple[Path, Path]:
    """target/ and logs/ under the state dir, so concurrent checkouts and test stacks don't collide."""
    base = settings.state_dir / "dbt"
    return base / "target", base / "logs"


def _describe_failures(result: dbtRunnerResult) -> list[str]:
    lines: list[str] = []
    run_results = getattr(result.result, "results", None) or []
    for node_result in run_results:
        status = str(getattr(node_result.status, "value", node_result.status))
        if status in _FAILED_STATUSES:
            node = getattr(node_result, "node", None)
            name = getattr(node, "unique_id", "<unknown node>")
            message = (node_result.message or "").strip().replace("\n", " ")
            lines.append(f"{name} [{status}]: {message}")
    return lines


def run_dbt(args: list[str], settings: Settings | None = None) -> dbtRunnerResult:
    """Invoke dbt (`args[0]` is the command, e.g. ["build", "--select", "marts"]) on the warehouse.

    Raises TransformError listing the failed nodes when the invocation does not succeed.
    """
    if not args:
        raise TransformError("run_dbt needs a dbt command, e.g. ['build']")
    settings = settings or load_settings()
    target_path, log_path = _artifact_dirs(settings)
    full_args = [
        *args,
        "--project-dir",
        str(TRANSFORM_DIR),
        "--profiles-dir",
        str(TRANSFORM_DIR),
        "--target-path",
        str(target_path),
        "--log-path",
        str(log_path),
    ]
    with _DBT_LOCK, _environment(dbt_env(settings)):
        result = dbtRunner().invoke(full_args)
    if not result.success:
        failures = _describe_failures(result)
        command = " ".join(args)
        if result.exception is not None:
            failures.insert(0, f"{type(result.exception).__name__}: {result.exception}")
        detail = "\n  ".join(failures) if failures else "no node failed; see the dbt log in " + str(log_path)
        raise TransformError(f"dbt {command} failed:\n  {detail}")
    return result


def build(settings: Settings, full_refresh: bool = False) -> dbtRunnerResult:
    """`dbt build` the whole project (models, tests, unit tests); `full_refresh` rebuilds incrementals."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(args, settings)
