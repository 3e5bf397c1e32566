"""Bring the embedded services up and down together, report their status, print connection variables."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from shopflow.config import Settings
from shopflow.services.fakestore_api import EmbeddedFakeStoreApi
from shopflow.services.postgres import EmbeddedPostgres
from shopflow.services.s3 import EmbeddedS3
from shopflow.transform.runner import dbt_env


@dataclass(frozen=True)
class ServiceState:
    name: str
    mode: str  # "embedded" or "external"
    state: str  # started, reused, restarted, stopped, running, not running, external
    endpoint: str


def embedded_services(settings: Settings) -> list[EmbeddedPostgres | EmbeddedS3 | EmbeddedFakeStoreApi]:
    """The embedded services this configuration needs, in start order."""
    services: list[EmbeddedPostgres | EmbeddedS3 | EmbeddedFakeStoreApi] = []
    if settings.embedded_postgres:
        services.append(EmbeddedPostgres(settings))
    if settings.embedded_s3:
        services.append(EmbeddedS3(settings))
    if settings.embedded_api:
        services.append(EmbeddedFakeStoreApi(settings))
    return services


def _endpoints(settings: Settings) -> dict[str, tuple[str, bool]]:
    return {
        "postgres": (settings.warehouse_dsn.rsplit("@", 1)[-1], settings.embedded_postgres),
        "s3": (settings.s3_endpoint_url, settings.embedded_s3),
        "api": (settings.fakestore_api_url, settings.embedded_api),
    }


def services_up(settings: Settings) -> list[ServiceState]:
    """Start every embedded service that is needed (idempotent); external ones are left alone."""
    for path in (settings.state_dir, settings.logs_dir, settings.run_dir):
        path.mkdir(parents=True, exist_ok=True)
    states = {svc.name: svc.start() for svc in embedded_services(settings)}
    return [
        ServiceState(name, "embedded" if embedded else "external", states.get(name, "external"), endpoint)
        for name, (endpoint, embedded) in _endpoints(settings).items()
    ]


def services_down(settings: Settings) -> list[ServiceState]:
    """Stop the embedded services in reverse start order."""
    states = {}
    for svc in reversed(embedded_services(settings)):
        states[svc.name] = "stopped" if svc.stop() else "not running"
    return [
        ServiceState(name, "embedded" if embedded else "external", states.get(name, "external"), endpoint)
        for name, (endpoint, embedded) in _endpoints(settings).items()
    ]


def services_status(settings: Settings) -> list[ServiceState]:
    """Whether each embedded service runs and answers; external ones are reported as such."""
    running = {svc.name: svc.is_running() for svc in embedded_services(settings)}
    return [
        ServiceState(
            name,
            "embedded" if embedded else "external",
            ("running" if running[name] else "not running") if embedded else "external",
            endpoint,
        )
        for name, (endpoint, embedded) in _endpoints(settings).items()
    ]


def env_exports(settings: Settings) -> list[str]:
    """`export NAME=value` lines for psql, aws-cli and boto3 against the configured services.

    libpq's PG* variables point at the warehouse, dbt's DBT_PG_* too (for `dbt` or SQLFluff run by hand
    in transform/); the shop database is SHOP_DATABASE_URL. The names
    deliberately differ from the variables that switch shopflow to external services (SHOP_DSN,
    S3_ENDPOINT_URL, FAKESTORE_API_URL), so evaluating them in a shell changes nothing for shopflow.
    """
    warehouse = urlsplit(settings.warehouse_dsn)
    values = {
        "PGHOST": warehouse.hostname or "",
        "PGPORT": str(warehouse.port or 5432),
        "PGUSER": unquote(warehouse.username or ""),
        "PGPASSWORD": unquote(warehouse.password or ""),
        "PGDATABASE": warehouse.path.lstrip("/"),
        "WAREHOUSE_DATABASE_URL": settings.warehouse_dsn,
        "SHOP_DATABASE_URL": settings.shop_dsn,
        "AWS_ENDPOINT_URL_S3": settings.s3_endpoint_url,  # read by aws-cli v2 and boto3
        "AWS_ACCESS_KEY_ID": settings.s3_access_key or "",
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key or "",
        "AWS_DEFAULT_REGION": settings.s3_region,
        "LAKE_BUCKET": settings.lake_bucket,
        "FAKESTORE_BASE_URL": settings.fakestore_api_url,
        **dbt_env(settings),
    }
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
