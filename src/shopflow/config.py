"""Settings read from environment variables, in one place.

Every endpoint and secret comes from the environment (see `.env.example`); this is the only module
that reads it. `load_settings()` returns one `Settings` object: the service endpoints at its root
(when an external endpoint is not given, the project's embedded service is used and its address is
derived from the ports here) and a group per concern: `simulation`, `airflow`, `metabase`, `lineage`. Code
receives the object, or the group it needs, instead of reading variables itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shopflow.errors import ShopflowError
from shopflow.regions import REGIONS, region_password_variable

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Local development credentials for the embedded services only; they never leave 127.0.0.1.
DEFAULT_S3_ACCESS_KEY = "shopflow"
DEFAULT_S3_SECRET_KEY = "shopflow-local-secret"
DEFAULT_PG_USER = "shopflow"
DEFAULT_PG_PASSWORD = "shopflow-local-password"
DEFAULT_START_DATE = date(2026, 1, 1)
DEFAULT_METABASE_URL = "http://127.0.0.1:13000"  # the port docker-compose.yml publishes Metabase on
DEFAULT_METABASE_COLLECTION = "Shopflow"
DEFAULT_METABASE_DATABASE_NAME = "Shopflow warehouse"
# Metabase needs minutes to migrate its application database on first start.
DEFAULT_METABASE_READY_TIMEOUT = 600.0

Port = Annotated[int, Field(ge=1, le=65535)]


class ConfigError(ShopflowError, ValueError):
    """A setting is missing or malformed; the message names the variable to change."""


def _describe(error: ValidationError) -> str:
    """One line per invalid variable: NAME='value': what is wrong."""
    lines = []
    for item in error.errors(include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["loc"]:
            lines.append(f"{item['loc'][0]}={item['input']!r}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)


# Set while settings are read from a given mapping instead of the process environment.
_MAPPING_ONLY: ContextVar[bool] = ContextVar("shopflow_settings_mapping_only", default=False)


class _FromEnvironment(BaseSettings):
    # Each field names its variable with `validation_alias`; an empty variable counts as unset.
    model_config = SettingsConfigDict(frozen=True, env_ignore_empty=True, extra="ignore", populate_by_name=True)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: Any, init_settings: Any, env_settings: Any, dotenv_settings: Any, file_secret_settings: Any
    ) -> tuple[Any, ...]:
        # No .env file or secrets directory: compose and ECS put every value in the environment.
        return (init_settings,) if _MAPPING_ONLY.get() else (init_settings, env_settings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **fields: Any) -> Self:
        """Read the process environment, or `env` instead; ConfigError names a malformed variable."""
        token = _MAPPING_ONLY.set(env is not None)
        try:
            given: dict[str, Any] = {name: value for name, value in (env or {}).items() if value != ""}
            return cls(**given, **fields)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None
        finally:
            _MAPPING_ONLY.reset(token)


class SimulationSettings(_FromEnvironment):
    """The simulated sources: whether they run here, and at which volume and seed."""

    simulate_sources: bool | None = Field(None, validation_alias="SHOPFLOW_SIMULATE_SOURCES")
    scale: float = Field(1.0, gt=0, allow_inf_nan=False, validation_alias="SHOPFLOW_SIMULATION_SCALE")
    seed: int = Field(42, validation_alias="SHOPFLOW_SIMULATION_SEED")

    @property
    def enabled(self) -> bool:
        """Whether the shop and clickstream are simulated (unset means live systems, except locally)."""
        return bool(self.simulate_sources)


class AirflowSettings(_FromEnvironment):
    """The local Airflow's api-server port and the daily DAGs' first day."""

    port: Port = Field(58081, validation_alias="SHOPFLOW_AIRFLOW_PORT")
    # A deployment's first day of data: catchup loads every day from it (never change it once runs exist).
    start_date_override: date | None = Field(None, validation_alias="SHOPFLOW_START_DATE")

    @property
    def start_date(self) -> date:
        return self.start_date_override or DEFAULT_START_DATE


class MetabaseSettings(_FromEnvironment):
    """Where Metabase is, its admin login, and how Metabase reaches the warehouse (METABASE_DB_*)."""

    url: str | None = Field(None, validation_alias="METABASE_URL")
    public_url: str | None = Field(None, validation_alias="METABASE_PUBLIC_URL")
    admin_email: str | None = Field(None, validation_alias="METABASE_ADMIN_EMAIL")
    admin_password: str | None = Field(None, validation_alias="METABASE_ADMIN_PASSWORD")
    collection: str = Field(DEFAULT_METABASE_COLLECTION, validation_alias="METABASE_COLLECTION")
    database_display_name: str = Field(DEFAULT_METABASE_DATABASE_NAME, validation_alias="METABASE_DB_DISPLAY_NAME")
    ready_timeout: float = Field(
        DEFAULT_METABASE_READY_TIMEOUT, ge=0, allow_inf_nan=False, validation_alias="METABASE_READY_TIMEOUT"
    )
    # The warehouse as Metabase sees it: host, port and name default to the warehouse DSN's.
    db_host: str | None = Field(None, validation_alias="METABASE_DB_HOST")
    db_port: Port | None = Field(None, validation_alias="METABASE_DB_PORT")
    db_name: str | None = Field(None, validation_alias="METABASE_DB_NAME")
    db_user: str = Field("metabase_reader", validation_alias="METABASE_DB_USER")
    db_password: str | None = Field(None, validation_alias="METABASE_DB_PASSWORD")
    db_ssl: bool = Field(False, validation_alias="METABASE_DB_SSL")

    @property
    def configured(self) -> bool:
        """Metabase is provisioned only where METABASE_URL is set."""
        return self.url is not None

    @property
    def api_url(self) -> str:
        return self.url or DEFAULT_METABASE_URL


class LineageSettings(_FromEnvironment):
    """Where the OpenLineage events of Airflow's tasks and dbt's models go (shopflow.lineage)."""

    # Off: no event is written anywhere (Airflow's provider is disabled).
    enabled: bool = Field(True, validation_alias="SHOPFLOW_LINEAGE_ENABLED")
    # An OpenLineage HTTP endpoint's base URL (Marquez: http://host:5000). Unset: a JSON-lines file
    # under the state dir. Never set by default, so no event leaves the machine unless asked to.
    url: str | None = Field(None, validation_alias="SHOPFLOW_LINEAGE_URL")
    # The namespace of the pipeline's jobs (the Airflow DAGs and tasks, dbt's models).
    namespace: str = Field("shopflow", min_length=1, validation_alias="SHOPFLOW_LINEAGE_NAMESPACE")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL with a host (Marquez: http://marquez:5000)")
        return value.rstrip("/")


def variable_name(group: type[BaseSettings], field: str) -> str:
    """The environment variable a settings field is read from (for messages and child environments)."""
    alias = group.model_fields[field].validation_alias
    if not isinstance(alias, str):
        raise TypeError(f"{group.__name__}.{field} is not read from one environment variable")
    return alias


def replace_database(dsn: str, dbname: str) -> str:
    """Return `dsn` (a postgresql:// URL) pointing at another database on the same server."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, parts.query, parts.fragment))


def postgres_url(
    user: str, password: str, host: str, port: int, dbname: str, scheme: str = "postgresql", sslmode: str | None = None
) -> str:
    """A PostgreSQL URL with every part escaped (generated passwords may hold '@', '/', ':').

    The container entrypoint builds the compose and ECS URLs with it too, so both escape alike.
    """
    url = f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{quote(dbname, safe='')}"
    return f"{url}?{urlencode({'sslmode': sslmode})}" if sslmode else url


def aws_connection_json(region: str, endpoint_url: str | None, access_key: str | None, secret_key: str | None) -> str:
    """An Airflow `aws` connection (JSON) for the lake: static keys when given, else the default AWS chain."""
    extra: dict[str, str] = {"region_name": region}
    if endpoint_url:
        extra["endpoint_url"] = endpoint_url
    conn: dict[str, object] = {"conn_type": "aws", "extra": extra}
    if access_key and secret_key:
        conn["login"], conn["password"] = access_key, secret_key
    return json.dumps(conn)


class Settings(_FromEnvironment):
    """Every setting of a shopflow process: service endpoints at the root, a group per concern."""

    state_dir: Path = Field(PROJECT_ROOT / ".local", validation_alias="SHOPFLOW_STATE_DIR")
    host: str = Field("127.0.0.1", validation_alias="SHOPFLOW_HOST")
    pg_port: Port = Field(55432, validation_alias="SHOPFLOW_PG_PORT")
    s3_port: Port = Field(58333, validation_alias="SHOPFLOW_S3_PORT")
    api_port: Port = Field(58080, validation_alias="SHOPFLOW_API_PORT")
    pg_user: str = Field(DEFAULT_PG_USER, validation_alias="SHOPFLOW_PG_USER")
    pg_password: str = Field(DEFAULT_PG_PASSWORD, validation_alias="SHOPFLOW_PG_PASSWORD")
    shop_dsn_external: str | None = Field(None, validation_alias="SHOP_DSN")
    warehouse_dsn_external: str | None = Field(None, validation_alias="WAREHOUSE_DSN")
    airflow_db_external: str | None = Field(None, validation_alias="AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    s3_endpoint_external: str | None = Field(None, validation_alias="S3_ENDPOINT_URL")
    fakestore_url_external: str | None = Field(None, validation_alias="FAKESTORE_API_URL")
    s3_access_key: str | None = Field(None, validation_alias="AWS_ACCESS_KEY_ID")
    s3_secret_key: str | None = Field(None, validation_alias="AWS_SECRET_ACCESS_KEY")
    s3_region: str = Field("us-east-1", validation_alias="AWS_DEFAULT_REGION")
    lake_bucket: str = Field("shopflow-lake", validation_alias="LAKE_BUCKET")
    # Passwords of the warehouse's job roles (shopflow.warehouse.roles); None when not set.
    loader_password: str | None = Field(None, validation_alias="WAREHOUSE_LOADER_PASSWORD")
    transformer_password: str | None = Field(None, validation_alias="WAREHOUSE_TRANSFORMER_PASSWORD")
    analyst_password: str | None = Field(None, validation_alias="WAREHOUSE_ANALYST_PASSWORD")
    # (region, password) of each region role that may log in (shopflow.regions), from
    # WAREHOUSE_REGION_<REGION>_PASSWORD: one variable per region, read in `from_env`.
    region_passwords: tuple[tuple[str, str], ...] = ()
    # Slack-compatible incoming webhook for alerts (shopflow.alerts); None: alerts are only logged.
    alert_webhook_url: str | None = Field(None, validation_alias="SHOPFLOW_ALERT_WEBHOOK_URL")
    simulation: SimulationSettings = Field(default_factory=SimulationSettings.from_env)
    airflow: AirflowSettings = Field(default_factory=AirflowSettings.from_env)
    metabase: MetabaseSettings = Field(default_factory=MetabaseSettings.from_env)
    lineage: LineageSettings = Field(default_factory=LineageSettings.from_env)

    # The databases of the embedded server (and their names in the compose stack).
    shop_db: ClassVar[str] = "shop"
    warehouse_db: ClassVar[str] = "warehouse"
    airflow_db: ClassVar[str] = "airflow"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **fields: Any) -> Self:
        groups = {
            "simulation": SimulationSettings.from_env(env),
            "airflow": AirflowSettings.from_env(env),
            "metabase": MetabaseSettings.from_env(env),
            "lineage": LineageSettings.from_env(env),
        }
        source = os.environ if env is None else env
        regions = tuple(
            (region, source[name]) for region in REGIONS if source.get(name := region_password_variable(region))
        )
        return super().from_env(env, **{"region_passwords": regions, **groups, **fields})

    @property
    def bi_reader_password(self) -> str | None:
        """The BI reader role is the one Metabase connects as: its password is METABASE_DB_PASSWORD."""
        return self.metabase.db_password

    @field_validator("state_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @model_validator(mode="before")
    @classmethod
    def _pairs(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        if bool(values.get("SHOP_DSN")) != bool(values.get("WAREHOUSE_DSN")):
            missing = "WAREHOUSE_DSN" if values.get("SHOP_DSN") else "SHOP_DSN"
            raise ValueError(
                f"{missing} is not set but the other PostgreSQL DSN is: set both SHOP_DSN and WAREHOUSE_DSN "
                "to use an external PostgreSQL, or neither to use the embedded one"
            )
        access, secret = values.get("AWS_ACCESS_KEY_ID"), values.get("AWS_SECRET_ACCESS_KEY")
        if bool(access) != bool(secret):
            missing = "AWS_SECRET_ACCESS_KEY" if access else "AWS_ACCESS_KEY_ID"
            raise ValueError(f"{missing} is not set but its pair is: set both, or neither")
        if not access and not values.get("S3_ENDPOINT_URL"):
            # The embedded S3 server's keys. An external S3 without keys uses boto3's default chain
            # (an instance or task role on AWS).
            values = {
                **values,
                "AWS_ACCESS_KEY_ID": DEFAULT_S3_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": DEFAULT_S3_SECRET_KEY,
            }
        return values

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
        return postgres_url(self.pg_user, self.pg_password, self.host, self.pg_port, dbname)

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

    @property
    def lineage_file(self) -> Path:
        """The OpenLineage events, one JSON document a line, when no SHOPFLOW_LINEAGE_URL is set."""
        return self.state_dir / "lineage" / "openlineage.jsonl"

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests point a copy at their own databases or bucket)."""
        return self.model_copy(update=changes)

    def with_simulation(self, *, scale: float | None = None, seed: int | None = None) -> Settings:
        """A copy simulating at another scale or seed (a command line's options); None keeps the setting."""
        changes = {name: value for name, value in (("scale", scale), ("seed", seed)) if value is not None}
        # Validated like the environment's values: a scale of 0 is refused here, not deep in the simulator.
        simulation = SimulationSettings.from_env({}, **{**self.simulation.model_dump(), **changes})
        return self.replace(simulation=simulation)


def load_settings() -> Settings:
    """Read settings from the environment; raise ConfigError naming the variable when one is wrong."""
    return Settings.from_env()


# --- the environment of child processes -----------------------------------------------------------------
def process_environment(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of this process's environment with `overrides`, for a child process (services, Airflow)."""
    return {**os.environ, **(overrides or {})}


def export_to_process(values: Mapping[str, str]) -> None:
    """Set `values` in this process's environment for good (switches libraries read at import)."""
    os.environ.update(values)


@contextmanager
def environment_overrides(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in this process's environment for the duration (for libraries that read it, like dbt)."""
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
