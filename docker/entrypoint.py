#!/usr/bin/env python3
"""Container entrypoint: derive connection URLs from their parts, then run the command.

Each credential reaches the container as its own variable: ECS injects RDS-managed passwords and the
Redis auth token one key at a time from Secrets Manager, and compose passes the same variables from
`.env`. Generated passwords may hold characters that must be escaped inside a URL, so the URLs that
shopflow and Airflow read (SHOP_DSN, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, ...) are built here, once,
for both. A variable that is already set is never overridden.

Usage: shopflow-entrypoint COMMAND [ARGS...]   (also wrap `docker exec` commands and healthchecks
with it, since `docker exec` does not go through the image's entrypoint).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

# The image installs shopflow into the venv this script runs with: URLs are escaped by the same code
# that builds them for local runs.
from shopflow import config, lineage

# Postgres credentials given in parts: prefix -> (DSN variable, Airflow connection variable).
DATABASES = {
    "SHOP_DB": ("SHOP_DSN", "AIRFLOW_CONN_SHOPFLOW_SHOP"),
    "WAREHOUSE_DB": ("WAREHOUSE_DSN", "AIRFLOW_CONN_SHOPFLOW_WAREHOUSE"),
    "AIRFLOW_DB": (None, None),
}
LAKE_CONNECTION = "AIRFLOW_CONN_SHOPFLOW_LAKE"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


class EntrypointError(ValueError):
    """The container's environment is incomplete or malformed; the message names the variable."""


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise EntrypointError(f"{name}={raw!r} is not a port number (1-65535)")
    return int(raw)


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise EntrypointError(f"{name}={raw!r} is not a boolean (use true or false)")


def _require(env: Mapping[str, str], prefix: str, suffixes: tuple[str, ...]) -> dict[str, str]:
    missing = [f"{prefix}_{s}" for s in suffixes if not env.get(f"{prefix}_{s}")]
    if missing:
        raise EntrypointError(
            f"{prefix}_HOST is set, so {', '.join(missing)} must be set too "
            f"(or unset {prefix}_HOST and give the full URL instead)"
        )
    return {s: env[f"{prefix}_{s}"] for s in suffixes}


def postgres_url(env: Mapping[str, str], prefix: str, scheme: str = "postgresql") -> str:
    """Build `scheme://user:password@host:port/name[?sslmode=...]` from `<prefix>_*` variables."""
    parts = _require(env, prefix, ("HOST", "NAME", "USER", "PASSWORD"))
    port = _port(env, f"{prefix}_PORT", 5432)
    return config.postgres_url(
        parts["USER"], parts["PASSWORD"], parts["HOST"], port, parts["NAME"], scheme, env.get(f"{prefix}_SSLMODE")
    )


def redis_url(env: Mapping[str, str]) -> str:
    """Build the Celery broker URL from REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_DB, REDIS_TLS."""
    password = _require(env, "REDIS", ("HOST", "PASSWORD"))["PASSWORD"]
    port = _port(env, "REDIS_PORT", 6379)
    db = env.get("REDIS_DB") or "0"
    if not db.isdigit():
        raise EntrypointError(f"REDIS_DB={db!r} is not a Redis database number")
    scheme = "rediss" if _flag(env, "REDIS_TLS") else "redis"
    return f"{scheme}://:{quote(password, safe='')}@{env['REDIS_HOST']}:{port}/{db}"


def lake_connection(env: Mapping[str, str]) -> str:
    """Airflow connection (JSON) for the lake: static keys when given, else the default AWS chain."""
    return config.aws_connection_json(
        env.get("AWS_DEFAULT_REGION") or "us-east-1",
        env.get("S3_ENDPOINT_URL"),
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
    )


def derive_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Return the variables to add to `env`: URLs built from parts, never replacing a set variable."""
    derived: dict[str, str] = {}

    def offer(name: str, value: str) -> None:
        if not env.get(name):
            derived[name] = value

    for prefix, (dsn_var, conn_var) in DATABASES.items():
        if env.get(f"{prefix}_HOST"):
            if dsn_var:
                offer(dsn_var, postgres_url(env, prefix))
            if prefix == "AIRFLOW_DB":
                offer("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", postgres_url(env, prefix, "postgresql+psycopg2"))
                offer("AIRFLOW__CELERY__RESULT_BACKEND", postgres_url(env, prefix, "db+postgresql"))
        # Airflow reads postgresql:// URIs as conn_type postgres, so the DSN doubles as the connection.
        dsn = derived.get(dsn_var or "") or env.get(dsn_var or "")
        if conn_var and dsn:
            offer(conn_var, dsn)
    if env.get("REDIS_HOST"):
        offer("AIRFLOW__CELERY__BROKER_URL", redis_url(env))
    if env.get("LAKE_BUCKET"):
        offer(LAKE_CONNECTION, lake_connection(env))
    for name, value in lineage_environment(env).items():
        offer(name, value)
    return derived


def lineage_settings(env: Mapping[str, str]) -> config.Settings:
    """The settings lineage depends on (state dir, SHOPFLOW_LINEAGE_*), read from `env` alone.

    Only those variables are passed: a container without the data credentials (the api-server)
    configures lineage too.
    """
    names = {"SHOPFLOW_STATE_DIR", *(field.validation_alias for field in config.LineageSettings.model_fields.values())}
    try:
        return config.Settings.from_env({name: env[name] for name in names if isinstance(name, str) and name in env})
    except config.ConfigError as err:
        raise EntrypointError(str(err)) from None


def lineage_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Airflow's [openlineage] settings, as `shopflow airflow up` sets them: the state dir's file, or Marquez."""
    return lineage.airflow_environment(lineage_settings(env))


def simple_auth_passwords_file(env: Mapping[str, str]) -> Path:
    """Where Airflow's SimpleAuthManager reads passwords (its own default when not configured)."""
    configured = env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    if configured:
        return Path(configured)
    return Path(env.get("AIRFLOW_HOME") or "/opt/airflow") / "simple_auth_manager_passwords.json.generated"


def write_admin_password(env: Mapping[str, str]) -> Path | None:
    """Write AIRFLOW_ADMIN_PASSWORD for AIRFLOW_ADMIN_USERNAME where SimpleAuthManager reads it.

    SimpleAuthManager (Airflow 3's default) keeps no user table: users come from configuration and
    their passwords from this file, which it would otherwise fill with random passwords.
    """
    password = env.get("AIRFLOW_ADMIN_PASSWORD")
    if not password:
        return None
    username = env.get("AIRFLOW_ADMIN_USERNAME") or "admin"
    path = simple_auth_passwords_file(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps({username: password}) + "\n")
    return path


def main(argv: list[str]) -> int:
    """Derive the environment, then replace this process with `argv`."""
    if not argv:
        print("usage: shopflow-entrypoint COMMAND [ARGS...]", file=sys.stderr)
        return 2
    try:
        os.environ.update(derive_environment(os.environ))
        if os.environ.get("AIRFLOW_ADMIN_PASSWORD"):
            os.environ.setdefault(
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
                f"{os.environ.get('AIRFLOW_ADMIN_USERNAME') or 'admin'}:admin",
            )
            write_admin_password(os.environ)
        # The events file's folder (a shared volume in compose): the file transport creates no folder.
        lineage.prepare_lineage_file(lineage_settings(os.environ))
    except (EntrypointError, OSError) as err:
        print(f"shopflow-entrypoint: {err}", file=sys.stderr)
        return 2
    try:
        os.execvp(argv[0], argv)
    except FileNotFoundError:
        print(f"shopflow-entrypoint: command not found: {argv[0]}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
