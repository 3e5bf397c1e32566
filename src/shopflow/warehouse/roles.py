"""Roles per job in the warehouse: loader, transformer, BI reader, analyst (see roles.sql)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from shopflow.config import Settings
from shopflow.db import connect
from shopflow.errors import ShopflowError
from shopflow.regions import REGIONS, region_password_variable, region_role

# The same file runs in the compose PostgreSQL init (docker/postgres/init-databases.sh).
ROLES_SQL = Path(__file__).with_name("roles.sql")


@dataclass(frozen=True)
class JobRole:
    name: str
    password_variable: str
    job: str


LOADER = JobRole("shopflow_loader", "WAREHOUSE_LOADER_PASSWORD", "writes raw and ops")
TRANSFORMER = JobRole("shopflow_transformer", "WAREHOUSE_TRANSFORMER_PASSWORD", "dbt: reads raw, owns the marts")
BI_READER = JobRole("metabase_reader", "METABASE_DB_PASSWORD", "reads marts and ops")
ANALYST = JobRole("shopflow_analyst", "WAREHOUSE_ANALYST_PASSWORD", "reads marts, PII columns hidden")
JOB_ROLES = (LOADER, TRANSFORMER, BI_READER, ANALYST)
# One per sales region: the BI reader's access, restricted to its region's customer rows.
REGION_ROLES = tuple(JobRole(region_role(r), region_password_variable(r), f"BI reader, {r} rows only") for r in REGIONS)


class RolesError(ShopflowError, RuntimeError):
    """The roles could not be created or granted; the message says why."""


@dataclass(frozen=True)
class RolesReport:
    database: str
    created: tuple[str, ...]
    updated: tuple[str, ...]
    no_login: tuple[str, ...] = ()  # roles without a password in this run: NOLOGIN unless set before

    def summary(self) -> str:
        parts = [f"warehouse {self.database}:"]
        if self.created:
            parts.append("created " + ", ".join(self.created))
        if self.updated:
            parts.append(("; " if self.created else "") + "updated " + ", ".join(self.updated))
        if self.no_login:
            parts.append("; no password given for " + ", ".join(self.no_login))
        return " ".join(parts)


def role_passwords(settings: Settings) -> dict[str, str]:
    """Each job role's password (all required) and the region roles' that are set, from the settings."""
    values = {
        LOADER.name: settings.loader_password,
        TRANSFORMER.name: settings.transformer_password,
        BI_READER.name: settings.bi_reader_password,
        ANALYST.name: settings.analyst_password,
    }
    missing = [role.password_variable for role in JOB_ROLES if not values[role.name]]
    if missing:
        raise RolesError(
            "no password for the warehouse roles: set " + ", ".join(missing) + " (they are never stored in the repo)"
        )
    # Region roles are optional: one without a password stays NOLOGIN.
    values.update({region_role(region): password for region, password in settings.region_passwords})
    return {name: value for name, value in values.items() if value}


def ensure_warehouse_roles(warehouse_dsn: str, passwords: dict[str, str]) -> RolesReport:
    """Create or update the job roles, their grants and default privileges; safe to run again.

    Re-running with new passwords rotates them. Needs a superuser or the warehouse's owner.
    """
    known = [role.name for role in (*JOB_ROLES, *REGION_ROLES)]
    unknown = sorted(set(passwords) - set(known))
    if unknown:
        raise RolesError(f"unknown warehouse role(s) {', '.join(unknown)}; known: {', '.join(known)}")
    try:
        # The outer block closes the connection, `with conn` commits the whole setup or none of it.
        with connect(warehouse_dsn) as conn, conn, conn.cursor() as cur:
            # One run at a time per database; role creation itself tolerates runs in other databases.
            cur.execute("select pg_advisory_xact_lock(hashtext('shopflow.warehouse.roles'))")
            cur.execute("select current_database()")
            database = cur.fetchone()[0]
            cur.execute("select rolname from pg_roles where rolname = any(%s)", (known,))
            existing = {row[0] for row in cur.fetchall()}
            cur.execute(ROLES_SQL.read_text())
            for name, password in passwords.items():
                cur.execute(
                    sql.SQL("alter role {} with login password {}").format(sql.Identifier(name), sql.Literal(password))
                )
    except psycopg2.OperationalError as exc:
        raise RolesError(f"cannot connect to the warehouse to create the roles: {exc}".strip()) from exc
    except psycopg2.Error as exc:
        raise RolesError(f"creating the warehouse roles failed: {exc}".strip()) from exc
    return RolesReport(
        database,
        tuple(n for n in known if n not in existing),
        tuple(n for n in known if n in existing),
        tuple(n for n in known if n not in passwords),
    )
