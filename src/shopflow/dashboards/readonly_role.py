"""A read-only PostgreSQL role for Metabase (and anyone else who only reads the marts)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg2
from psycopg2 import sql

from shopflow.errors import ShopflowError

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ReadonlyRoleError(ShopflowError, RuntimeError):
    """The role could not be created or granted; the message says why."""


@dataclass(frozen=True)
class ReadonlyRole:
    """What `create_readonly_role` did."""

    role: str
    created: bool
    database: str
    schemas: tuple[str, ...]
    tables_granted: int


def create_readonly_role(
    warehouse_dsn: str, role: str, password: str, schemas: tuple[str, ...] = ("marts",)
) -> ReadonlyRole:
    """Create or update a LOGIN role with CONNECT, USAGE and SELECT on `schemas`, now and in future."""
    if not ROLE_NAME.match(role):
        raise ReadonlyRoleError(f"role name {role!r} must be lowercase letters, digits and underscores (max 63)")
    if not password:
        raise ReadonlyRoleError(
            f"no password for role {role!r}: set METABASE_DB_PASSWORD (it is never stored in the repo)"
        )
    for schema in schemas:
        if not ROLE_NAME.match(schema):
            raise ReadonlyRoleError(f"schema name {schema!r} is not a plain lowercase identifier")
    ident = sql.Identifier(role)
    try:
        conn = psycopg2.connect(warehouse_dsn, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise ReadonlyRoleError(f"cannot connect to the warehouse to create role {role!r}: {exc}") from exc
    try:
        with conn, conn.cursor() as cur:
            # Serialise concurrent runs: CREATE ROLE has no IF NOT EXISTS.
            cur.execute("select pg_advisory_xact_lock(hashtext('shopflow.create_readonly_role'))")
            cur.execute("select current_database(), current_user")
            database, owner = cur.fetchone()
            cur.execute("select 1 from pg_roles where rolname = %s", (role,))
            created = cur.fetchone() is None
            verb = "create" if created else "alter"
            cur.execute(
                sql.SQL(verb + " role {} with login password {} nosuperuser nocreatedb nocreaterole").format(
                    ident, sql.Literal(password)
                )
            )
            # Defence in depth: even a mistaken grant cannot let this role write.
            cur.execute(sql.SQL("alter role {} set default_transaction_read_only = on").format(ident))
            cur.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), ident))
            tables = 0
            for schema in schemas:
                schema_ident = sql.Identifier(schema)
                # The schema may not be built yet; creating it empty lets the grants (and the default
                # privileges for the tables dbt creates later) be set now.
                cur.execute(sql.SQL("create schema if not exists {}").format(schema_ident))
                cur.execute(sql.SQL("grant usage on schema {} to {}").format(schema_ident, ident))
                cur.execute(sql.SQL("grant select on all tables in schema {} to {}").format(schema_ident, ident))
                cur.execute(
                    sql.SQL("alter default privileges for role {} in schema {} grant select on tables to {}").format(
                        sql.Identifier(owner), schema_ident, ident
                    )
                )
                cur.execute(
                    "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                    "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p', 'f')",
                    (schema,),
                )
                tables += cur.fetchone()[0]
    except psycopg2.Error as exc:
        raise ReadonlyRoleError(f"creating read-only role {role!r} failed: {exc}".strip()) from exc
    finally:
        conn.close()
    return ReadonlyRole(role, created, database, tuple(schemas), tables)
