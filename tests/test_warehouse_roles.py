"""The warehouse's roles per job: each can do its job and nothing else (shopflow.warehouse.roles)."""

from __future__ import annotations

import psycopg2
import pytest

from shopflow.config import load_settings
from shopflow.regions import REGIONS, region_password_variable, region_role
from shopflow.warehouse.ops import ensure_ops_schema
from shopflow.warehouse.roles import (
    ANALYST,
    BI_READER,
    LOADER,
    TRANSFORMER,
    RolesError,
    ensure_warehouse_roles,
    role_passwords,
)

# Roles are global to a PostgreSQL server; each xdist worker has its own server, so they never meet.

PASSWORDS = {
    LOADER.name: "loader-Pw1'",
    TRANSFORMER.name: "transformer-Pw1",
    BI_READER.name: "reader-Pw1 $x",
    ANALYST.name: "analyst-Pw1",
    # Region roles are optional: apac gets no password, so it cannot log in.
    region_role("europe"): "europe-Pw1",
    region_role("americas"): "americas-Pw1",
}

# What the warehouse holds before the roles exist: a raw table with PII, a customer-facing mart
# (name and contact columns) and a mart without PII.
BEFORE_ROLES_SQL = """
create schema raw;
create table raw.customers (customer_id int, email text, phone text);
insert into raw.customers values (1, 'ann@example.com', '+49 30 1234567');
create schema marts;
create table marts.dim_customers as
    select 1 as customer_id, 'Ann Lee' as full_name, 'a***@example.com' as email_masked,
           'hash' as email_hash, 'Berlin' as city;
create table marts.mart_daily_revenue as select date '2025-06-30' as order_date, 10.0 as revenue;
create table marts.mart_customer_lifetime_value as
    select * from (values (1, 'europe', 5.0), (2, 'americas', 7.0), (3, 'apac', 1.0), (4, 'other', 2.0))
    as v (customer_id, region, lifetime_revenue);
"""


@pytest.fixture(scope="module")
def roles_warehouse(isolated_settings):
    settings = isolated_settings("roles")
    conn = psycopg2.connect(settings.warehouse_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(BEFORE_ROLES_SQL)
        ensure_ops_schema(conn)
    conn.close()
    report = ensure_warehouse_roles(settings.warehouse_dsn, PASSWORDS)
    assert set(report.created) | set(report.updated) == set(PASSWORDS) | {region_role("apac")}
    assert report.no_login == (region_role("apac"),)
    return settings


def _try(settings, role: str, statement: str, password: str | None = None) -> str:
    """'ok' or the error class of `statement` run as `role` in a read-write transaction, rolled back."""
    conn = psycopg2.connect(settings.warehouse_dsn, user=role, password=password or PASSWORDS[role])
    try:
        with conn.cursor() as cur:
            cur.execute("set transaction read write")
            cur.execute(statement)
        return "ok"
    except psycopg2.Error as exc:
        return type(exc).__name__
    finally:
        conn.rollback()
        conn.close()


DENIED = "InsufficientPrivilege"

# statement -> expected outcome per role (loader, transformer, BI reader, analyst)
MATRIX = [
    ("select count(*) from raw.customers", ("ok", "ok", DENIED, DENIED)),
    ("insert into raw.customers values (2, 'b@example.com', null)", ("ok", DENIED, DENIED, DENIED)),
    ("create table raw.orders (order_id int)", ("ok", DENIED, DENIED, DENIED)),
    ("select count(*) from ops.validation_results", ("ok", DENIED, "ok", DENIED)),
    ("delete from ops.load_ledger", ("ok", DENIED, DENIED, DENIED)),
    ("select count(*) from marts.mart_daily_revenue", (DENIED, DENIED, "ok", "ok")),
    ("select full_name from marts.dim_customers", (DENIED, DENIED, "ok", DENIED)),
    ("select email_hash from marts.dim_customers", (DENIED, DENIED, "ok", DENIED)),
    ("select customer_id, email_masked, city from marts.dim_customers", (DENIED, DENIED, "ok", "ok")),
    ("delete from marts.mart_daily_revenue", (DENIED, DENIED, DENIED, DENIED)),
    (
        "create table marts.fact_new as select count(*) as n from raw.customers",
        (DENIED, "ok", DENIED, DENIED),
    ),
    ("create table public.scratch (x int)", (DENIED, DENIED, DENIED, DENIED)),
    ("create temporary table scratch (x int)", ("ok", "ok", DENIED, DENIED)),
]


def test_each_role_can_do_its_job_and_nothing_else(roles_warehouse):
    roles = (LOADER.name, TRANSFORMER.name, BI_READER.name, ANALYST.name)
    actual = {stmt: tuple(_try(roles_warehouse, role, stmt) for role in roles) for stmt, _ in MATRIX}
    assert actual == dict(MATRIX)


def test_readers_are_read_only_by_default(roles_warehouse):
    for role in (BI_READER.name, ANALYST.name):
        conn = psycopg2.connect(roles_warehouse.warehouse_dsn, user=role, password=PASSWORDS[role])
        with conn.cursor() as cur:
            cur.execute("show default_transaction_read_only")
            assert cur.fetchone() == ("on",)
        conn.close()


def test_tables_built_later_get_the_grants_and_a_rebuilt_mart_hides_pii_again(roles_warehouse):
    admin = psycopg2.connect(roles_warehouse.warehouse_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        # What dbt does to a mart: build a new table, swap it in, then the marts post-hook.
        cur.execute(
            "create table marts.dim_customers__new as select 2 as customer_id, 'Bo Ng' as full_name, "
            "'b***@example.com' as email_masked"
        )
        cur.execute("drop table marts.dim_customers")
        cur.execute("alter table marts.dim_customers__new rename to dim_customers")
        cur.execute("select public.shopflow_hide_pii_from_analyst('marts.dim_customers'::regclass)")
        cur.execute("create table raw.products (product_id int)")
    admin.close()
    assert _try(roles_warehouse, BI_READER.name, "select full_name from marts.dim_customers") == "ok"
    assert _try(roles_warehouse, ANALYST.name, "select full_name from marts.dim_customers") == DENIED
    assert _try(roles_warehouse, ANALYST.name, "select customer_id, email_masked from marts.dim_customers") == "ok"
    assert _try(roles_warehouse, TRANSFORMER.name, "select * from raw.products") == "ok"
    assert _try(roles_warehouse, LOADER.name, "insert into raw.products values (1)") == "ok"
    assert _try(roles_warehouse, BI_READER.name, "select * from raw.products") == DENIED


def test_running_again_is_idempotent_and_rotates_passwords(roles_warehouse):
    rotated = {**PASSWORDS, BI_READER.name: "rotated-Pw2"}
    report = ensure_warehouse_roles(roles_warehouse.warehouse_dsn, rotated)
    assert report.created == () and set(report.updated) == set(PASSWORDS) | {region_role("apac")}
    assert _try(roles_warehouse, BI_READER.name, "select 1", password="rotated-Pw2") == "ok"
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(roles_warehouse.warehouse_dsn, user=BI_READER.name, password=PASSWORDS[BI_READER.name])
    ensure_warehouse_roles(roles_warehouse.warehouse_dsn, PASSWORDS)
    assert _try(roles_warehouse, ANALYST.name, "select full_name from marts.dim_customers") == DENIED


def test_missing_passwords_are_named(monkeypatch):
    for role in (TRANSFORMER, BI_READER, ANALYST):
        monkeypatch.delenv(role.password_variable, raising=False)
    monkeypatch.setenv(LOADER.password_variable, "x")
    with pytest.raises(RolesError, match="WAREHOUSE_TRANSFORMER_PASSWORD, METABASE_DB_PASSWORD, WAREHOUSE_ANALYST"):
        role_passwords(load_settings())


def test_unknown_role_and_unreachable_warehouse_are_clear_errors():
    with pytest.raises(RolesError, match="unknown warehouse role"):
        ensure_warehouse_roles("postgresql://nobody@127.0.0.1:1/none", {"superuser": "x"})
    with pytest.raises(RolesError, match="cannot connect to the warehouse"):
        ensure_warehouse_roles("postgresql://nobody@127.0.0.1:1/none", PASSWORDS)


# --- row-level security by region -------------------------------------------------------------------


def _customer_ids(settings, role: str) -> list[int]:
    conn = psycopg2.connect(settings.warehouse_dsn, user=role, password=PASSWORDS[role])
    try:
        with conn.cursor() as cur:
            cur.execute("select customer_id from marts.mart_customer_lifetime_value order by 1")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def test_a_region_role_sees_only_its_customers_rows(roles_warehouse):
    assert _customer_ids(roles_warehouse, region_role("europe")) == [1]
    assert _customer_ids(roles_warehouse, region_role("americas")) == [2]
    # Unrestricted readers see every region, "other" included.
    assert _customer_ids(roles_warehouse, BI_READER.name) == [1, 2, 3, 4]
    assert _customer_ids(roles_warehouse, ANALYST.name) == [1, 2, 3, 4]
    europe = region_role("europe")
    # Otherwise a region role has the BI reader's access: marts and ops, no raw, no writes.
    assert _try(roles_warehouse, europe, "select count(*) from marts.mart_daily_revenue") == "ok"
    assert _try(roles_warehouse, europe, "select count(*) from raw.customers") == DENIED
    assert _try(roles_warehouse, europe, "delete from marts.mart_customer_lifetime_value") == DENIED
    # It inherits the BI reader's grants but cannot become the BI reader, who sees every region.
    assert _try(roles_warehouse, europe, "set role metabase_reader") == DENIED
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(roles_warehouse.warehouse_dsn, user=region_role("apac"), password="anything")


def test_region_policy_survives_a_rebuild_and_spares_tables_without_region(roles_warehouse):
    admin = psycopg2.connect(roles_warehouse.warehouse_dsn)
    admin.autocommit = True
    with admin.cursor() as cur:
        # What dbt does to a mart: a new table swapped in, then the marts post-hooks.
        cur.execute(
            "create table marts.clv__new as select * from (values (1, 'europe'), (5, 'europe'), (6, 'americas')) "
            "as v (customer_id, region)"
        )
        cur.execute("drop table marts.mart_customer_lifetime_value")
        cur.execute("alter table marts.clv__new rename to mart_customer_lifetime_value")
        cur.execute("select public.shopflow_restrict_rows_by_region('marts.mart_customer_lifetime_value'::regclass)")
        cur.execute("select public.shopflow_restrict_rows_by_region('marts.mart_daily_revenue'::regclass)")
        cur.execute("select relrowsecurity from pg_class where oid = 'marts.mart_daily_revenue'::regclass")
        assert cur.fetchone() == (False,)
    admin.close()
    assert _customer_ids(roles_warehouse, region_role("europe")) == [1, 5]
    assert _customer_ids(roles_warehouse, BI_READER.name) == [1, 5, 6]


def test_region_passwords_come_from_their_variables(monkeypatch):
    for region in REGIONS:
        monkeypatch.delenv(region_password_variable(region), raising=False)
    monkeypatch.setenv("WAREHOUSE_REGION_EUROPE_PASSWORD", "pw")
    assert load_settings().region_passwords == (("europe", "pw"),)
