"""Run the dbt project in `transform/` programmatically, against the warehouse from the settings.

dbt reads its connection from environment variables (transform/profiles.yml); `dbt_env` derives
them from `Settings.warehouse_dsn`, and `run_dbt` sets them for one invocation only.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from shopflow.config import PROJECT_ROOT, Settings, environment_overrides, load_settings
from shopflow.errors import ShopflowError
from shopflow.telemetry import DBT_NO_USAGE_STATS_FLAG

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult

TRANSFORM_DIR = PROJECT_ROOT / "transform"
DBT_SCHEMA = "analytics"

# dbtRunner keeps global state (flags, adapter registry, invocation context) and mutates
# the process environment here: two invocations in one process must never overlap.
_DBT_LOCK = threading.Lock()

_FAILED_STATUSES = {"error", "fail", "runtime error"}
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_MAX_MESSAGE_CHARS = 600


class TransformError(ShopflowError, RuntimeError):
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
        name for name, value in (("host", parts.hostname), ("user", parts.username), ("database", dbname)) if not value
    ]
    if missing:
        raise TransformError(
            f"warehouse DSN lacks {', '.join(missing)} "
            "(expected postgresql://user:password@host:port/dbname in WAREHOUSE_DSN)"
        )
    return {
        "DBT_PG_HOST": parts.hostname or "",
        "DBT_PG_PORT": str(port),
        "DBT_PG_USER": unquote(parts.username or ""),
        "DBT_PG_PASSWORD": unquote(parts.password or ""),
        "DBT_PG_DBNAME": dbname,
        "DBT_PG_SCHEMA": DBT_SCHEMA,
    }


def _artifact_dirs(settings: Settings) -> tuple[Path, Path]:
    """target/ and logs/ under the state dir, so concurrent checkouts and test stacks don't collide."""
    base = settings.state_dir / "dbt"
    return base / "target", base / "logs"


def _describe_failures(result: dbtRunnerResult) -> tuple[list[str], int]:
    """One line per failed node (id, status, dbt's message without colours), and the skipped count."""
    lines: list[str] = []
    skipped = 0
    for node_result in getattr(result.result, "results", None) or []:
        status = str(getattr(node_result.status, "value", node_result.status))
        if status == "skipped":
            skipped += 1
        if status in _FAILED_STATUSES:
            name = getattr(getattr(node_result, "node", None), "unique_id", "<unknown node>")
            message = " ".join(_ANSI_ESCAPE.sub("", node_result.message or "").split())
            if not message and hasattr(node_result, "max_loaded_at"):
                # Source freshness results carry no message: say how old the last load is.
                loaded = node_result.max_loaded_at
                message = (
                    "stale: the table has no rows"
                    if loaded is None or loaded.year <= 1
                    else f"stale: last loaded {loaded.isoformat()}, {node_result.age / 3600:.1f} h ago"
                )
            if len(message) > _MAX_MESSAGE_CHARS:
                message = message[:_MAX_MESSAGE_CHARS] + " ..."
            lines.append(f"{name} [{status}]: {message}")
    return lines, skipped


def run_dbt(args: list[str], settings: Settings | None = None) -> dbtRunnerResult:
    """Invoke dbt (`args[0]` is the command, e.g. ["build", "--select", "marts"]) on the warehouse.

    Raises TransformError listing the failed nodes when the invocation does not succeed.
    """
    if not args:
        raise TransformError("run_dbt needs a dbt command, e.g. ['build']")
    settings = settings or load_settings()
    target_path, log_path = _artifact_dirs(settings)
    # The flag outranks DBT_SEND_ANONYMOUS_USAGE_STATS and the project's flags: no usage events, ever.
    full_args = [
        *args,
        DBT_NO_USAGE_STATS_FLAG,
        "--project-dir",
        str(TRANSFORM_DIR),
        "--profiles-dir",
        str(TRANSFORM_DIR),
    ]
    # Paths as environment variables: every command reads them, while `dbt debug` rejects the flags.
    environment = {**dbt_env(settings), "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(log_path)}
    # Imported here: importing dbt costs seconds, and `dbt_env` (the Airflow tasks' profile variables)
    # must not pay for it.
    from dbt.cli.main import dbtRunner

    with _DBT_LOCK, environment_overrides(environment):
        result = dbtRunner().invoke(full_args)
    if not result.success:
        failures, skipped = _describe_failures(result)
        if result.exception is not None:
            failures.insert(0, f"{type(result.exception).__name__}: {result.exception}")
        summary = f"{len(failures)} failure(s)" + (f", {skipped} node(s) skipped downstream" if skipped else "")
        detail = "\n  ".join(failures) if failures else f"no node failed; see the dbt log in {log_path}"
        raise TransformError(f"dbt {' '.join(args)} failed ({summary}):\n  {detail}")
    return result


def build(settings: Settings, full_refresh: bool = False) -> dbtRunnerResult:
    """`dbt build` the whole project (models, tests, unit tests); `full_refresh` rebuilds incrementals."""
    args = ["build"]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(args, settings)
