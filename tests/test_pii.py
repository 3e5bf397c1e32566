"""Customer e-mails and phones never reach the dbt schemas in clear text (docs/governance.md)."""

from __future__ import annotations

import hashlib
import re

import psycopg2
import pytest

from shopflow.sources.people import COUNTRIES, make_email, make_phone
from shopflow.warehouse.pii_scan import (
    EMAIL_PATTERN,
    MASKED_EMAIL,
    MASKED_PHONE,
    PHONE_PATTERN,
    SHA256_HEX,
    scan_for_contact_data,
)

# Everything dbt builds, and the quality record the BI reader sees.
ANALYTICS_SCHEMAS = ("staging", "intermediate", "marts", "ops")


def test_patterns_find_every_generated_phone_and_email_and_spare_keys():
    import numpy as np

    rng = np.random.default_rng(3)
    for country in COUNTRIES:
        assert re.search(PHONE_PATTERN, make_phone(rng, country)), country.name
    assert re.search(EMAIL_PATTERN, make_email("Zoë", "O'Neil", 42, 1, 0))
    assert re.search(PHONE_PATTERN, "(555) 123-4567")
    harmless = [
        hashlib.sha256(b"ann@example.com").hexdigest(),
        hashlib.md5(b"1").hexdigest(),
        "12345678-1234-4234-9234-123456789012",
        "a***@example.com",
        "***67",
        "2025-06-30 12:00:00+00",
    ]
    for value in harmless:
        assert not re.search(EMAIL_PATTERN, value) and not re.search(PHONE_PATTERN, value), value


@pytest.mark.slow  # the demo pipeline's warehouse (built once per session)
def test_no_clear_contact_data_outside_raw(built_warehouse):
    conn = psycopg2.connect(built_warehouse.warehouse_dsn)
    try:
        findings = scan_for_contact_data(conn, ANALYTICS_SCHEMAS)
        # The scanner does find them where they are: raw keeps the clear values.
        in_raw = {(f.table, f.column, f.kind) for f in scan_for_contact_data(conn, ("raw",))}
    finally:
        conn.close()
    assert not findings, "\n".join(map(str, findings))
    assert {("raw.shop_customers", "email", "email"), ("raw.shop_customers", "phone", "phone")} <= in_raw


@pytest.mark.slow  # the demo pipeline's warehouse (built once per session)
def test_marts_hash_for_joins_and_mask_for_display(built_warehouse):
    conn = psycopg2.connect(built_warehouse.warehouse_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select r.email, r.phone, d.email_hash, d.email_masked, d.phone_hash, d.phone_masked "
                "from marts.dim_customers d join raw.shop_customers r using (customer_id) "
                "where d.is_current and r.phone is not null order by r.updated_at desc limit 1"
            )
            email, phone, email_hash, email_masked, phone_hash, phone_masked = cur.fetchone()
    finally:
        conn.close()
    # Anyone holding an address can find its customer by hashing it the same way.
    assert email_hash == hashlib.sha256(email.strip().lower().encode()).hexdigest()
    assert phone_hash == hashlib.sha256(re.sub(r"[^0-9+]", "", phone).encode()).hexdigest()
    assert re.match(SHA256_HEX, phone_hash)
    assert email_masked == email.strip().lower()[0] + "***@" + email.split("@")[1].lower()
    assert re.match(MASKED_EMAIL, email_masked) and re.match(MASKED_PHONE, phone_masked)
    assert phone_masked == "***" + re.sub(r"[^0-9]", "", phone)[-2:]


@pytest.mark.parametrize("value", ["ann@example.com", "+49 151 23456789"])
def test_scan_reports_table_column_and_example(stack, value):
    conn = psycopg2.connect(stack.warehouse_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("create temporary table leak (note text)")
            cur.execute("insert into leak values ('ok'), (%s)", (value,))
            cur.execute("select nspname from pg_namespace where oid = pg_my_temp_schema()")
            temp_schema = cur.fetchone()[0]
        (finding,) = scan_for_contact_data(conn, (temp_schema,))
    finally:
        conn.close()
    assert finding.column == "note" and finding.rows == 1 and finding.example == value
    assert finding.table == f"{temp_schema}.leak"


@pytest.mark.slow  # the demo pipeline's warehouse (built once per session)
def test_customer_marts_carry_the_region_of_their_country(built_warehouse):
    from shopflow.regions import OTHER_REGION, REGION_COUNTRIES

    expected = {country: region for region, countries in REGION_COUNTRIES.items() for country in countries}
    conn = psycopg2.connect(built_warehouse.warehouse_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "select distinct country, region from marts.dim_customers union "
                "select distinct country, region from marts.mart_customer_lifetime_value"
            )
            pairs = dict(cur.fetchall())
    finally:
        conn.close()
    # The demo's customers come from every country of the shop; the SQL macro maps them as Python does.
    assert pairs == {country: expected.get(country, OTHER_REGION) for country in pairs}
    assert set(pairs) == set(expected)
