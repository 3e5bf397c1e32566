"""Settings read from environment variables, in one place.

Every endpoint and secret comes from the environment (see `.env.example`). When an external endpoint
is not given, the project's embedded service is used and its address is derived from the ports here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from shopflow.regions import REGIONS, region_password_variable

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Local development credentials for the embedded services only; they never leave 127.0.0.1.
DEFAULT_S3_ACCESS_KEY = "shopflow"
DEFAULT_S3_SECRET_KEY = "shopflow-local-secret"
DEFAULT_PG_USER = "shopflow"
DEFAULT_PG_PASSWORD = "shopflow-local-password"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable to change."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_port(name: str, default: int) -> int:
    raw = _env(name, str(default))
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}={port} is outside 1-65535")
    return port


def replace_database(dsn: str, dbname: str) -> str:
    """Return `dsn` (a postgresql:// URL) pointing at another database on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    host: str
    pg_port: int
    s3_port: int
    api_port: int
    pg_user: str
    pg_password: str
    shop_dsn_external: str | None
    warehouse_dsn_external: str | None
    airflow_db_external: str | None
    s3_endpoint_external: str | None
    fakestore_url_external: str | None
    s3_access_key: str | None
    s3_secret_key: str | None
    s3_region: str
    lake_bucket: str
    # Passwords of the warehouse's job roles (shopflow.warehouse.roles); None when not set.
    loader_password: str | None = None
    transformer_password: str | None = None
    bi_reader_password: str | None = None
    analyst_password: str | None = None
    # (region, password) of each region role that may log in (shopflow.regions).
    region_passwords: tuple[tuple[str, str], ...] = ()
    # Slack-compatible incoming webhook for alerts (shopflow.alerts); None: alerts are only logged.
    alert_webhook_url: str | None = None
    shop_db: str = "shop"
    warehouse_db: str = "warehouse"
    airflow_db: str = "airflow"

    # --- which services are embedded -------------------------------------------------------------
    @property
    def embedded_postgres(self) -> bool:
        return self.shop_dsn_external is None and self.warehouse_dsn_external is None

    @property
    def embedded_s3(self) -> bool:
        return self.s3_endpoint_external is None

    @property
    def embedded_api(self) -> bool:
        return self.fakestore_url_external is None

    # --- addresses --------------------------------------------------------------------------------
    def embedded_dsn(self, dbname: str) -> str:
        return f"postgresql://{quote(self.pg_user)}:{quote(self.pg_password)}@{self.host}:{self.pg_port}/{dbname}"

    @property
    def shop_dsn(self) -> str:
        return self.shop_dsn_external or self.embedded_dsn(self.shop_db)

    @property
    def warehouse_dsn(self) -> str:
        return self.warehouse_dsn_external or self.embedded_dsn(self.warehouse_db)

    @property
    def airflow_sqlalchemy_conn(self) -> str:
        if self.airflow_db_external:
            return self.airflow_db_external
        return self.embedded_dsn(self.airflow_db).replace("postgresql://", "postgresql+psycopg2://", 1)

    @property
    def s3_endpoint_url(self) -> str:
        return self.s3_endpoint_external or f"http://{self.host}:{self.s3_port}"

    @property
    def fakestore_api_url(self) -> str:
        return (self.fakestore_url_external or f"http://{self.host}:{self.api_port}").rstrip("/")

    # --- local paths ------------------------------------------------------------------------------
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def output_dir(self) -> Path:
        return self.state_dir / "output"


def load_settings() -> Settings:
    """Read settings from the environment; raise ConfigError naming the variable when one is wrong."""
    shop_dsn = _env("SHOP_DSN")
    warehouse_dsn = _env("WAREHOUSE_DSN")
    if (shop_dsn is None) != (warehouse_dsn is None):
        missing = "SHOP_DSN" if shop_dsn is None else "WAREHOUSE_DSN"
        raise ConfigError(
            f"{missing} is not set but the other PostgreSQL DSN is: set both SHOP_DSN and WAREHOUSE_DSN "
            "to use an external PostgreSQL, or neither to use the embedded one"
        )
    s3_endpoint = _env("S3_ENDPOINT_URL")
    access_key = _env("AWS_ACCESS_KEY_ID")
    secret_key = _env("AWS_SECRET_ACCESS_KEY")
    if bool(access_key) != bool(secret_key):
        missing = "AWS_SECRET_ACCESS_KEY" if access_key else "AWS_ACCESS_KEY_ID"
        raise ConfigError(f"{missing} is not set but its pair is: set both, or neither")
    state_dir = Path(_env("SHOPFLOW_STATE_DIR", str(PROJECT_ROOT / ".local"))).resolve()
    return Settings(
        state_dir=state_dir,
        host=_env("SHOPFLOW_HOST", "127.0.0.1"),
        pg_port=_env_port("SHOPFLOW_PG_PORT", 55432),
        s3_port=_env_port("SHOPFLOW_S3_PORT", 58333),
        api_port=_env_port("SHOPFLOW_API_PORT", 58080),
        pg_user=_env("SHOPFLOW_PG_USER", DEFAULT_PG_USER),
        pg_password=_env("SHOPFLOW_PG_PASSWORD", DEFAULT_PG_PASSWORD),
        shop_dsn_external=shop_dsn,
        warehouse_dsn_external=warehouse_dsn,
        airflow_db_external=_env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"),
        s3_endpoint_external=s3_endpoint,
        fakestore_url_external=_env("FAKESTORE_API_URL"),
        # An external S3 without keys uses boto3's default chain (an instance or task role on AWS).
        s3_access_key=access_key or (None if s3_endpoint else DEFAULT_S3_ACCESS_KEY),
        s3_secret_key=secret_key or (None if s3_endpoint else DEFAULT_S3_SECRET_KEY),
        s3_region=_env("AWS_DEFAULT_REGION", "us-east-1"),
        lake_bucket=_env("LAKE_BUCKET", "shopflow-lake"),
        loader_password=_env("WAREHOUSE_LOADER_PASSWORD"),
        transformer_password=_env("WAREHOUSE_TRANSFORMER_PASSWORD"),
        bi_reader_password=_env("METABASE_DB_PASSWORD"),
        analyst_password=_env("WAREHOUSE_ANALYST_PASSWORD"),
        alert_webhook_url=_env("SHOPFLOW_ALERT_WEBHOOK_URL"),
        region_passwords=tuple(
            (region, password) for region in REGIONS if (password := _env(region_password_variable(region)))
        ),
    )
