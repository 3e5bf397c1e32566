"""Find e-mail addresses and phone numbers in clear text in warehouse schemas (docs/governance.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg2 import sql

# PostgreSQL regular expressions (ARE), matched anywhere in a value.
EMAIL_PATTERN = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
# International numbers (+ country code, 7+ more digits with separators), or a whole value that is a
# national 10-digit number. Hashes and UUIDs never contain '+' and are not only digits and separators.
PHONE_PATTERN = r"\+[0-9]{1,3}([ ().-]*[0-9]){7,}|^\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-]?[0-9]{4}$"

# What the marts hold instead (transform/macros/pii.sql); the mart suites check these shapes.
SHA256_HEX = r"^[0-9a-f]{64}$"
MASKED_EMAIL = r"^.\*\*\*@.+$"
MASKED_PHONE = r"^\*\*\*[0-9]{0,2}$"

# Column types whose values are scanned (json values as their text).
_TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb")


@dataclass(frozen=True)
class PiiFinding:
    table: str
    column: str
    kind: str  # "email" or "phone"
    rows: int
    example: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.rows} row(s) with a clear {self.kind} (e.g. {self.example!r})"


def scan_for_contact_data(conn: Any, schemas: tuple[str, ...]) -> list[PiiFinding]:
    """Every text column of every table in `schemas` whose values look like an e-mail or phone.

    Stored tables only: views (dbt's staging and intermediate) hold nothing, and what they compute
    reaches the marts' tables, which are scanned. One pass over each table checks all its columns.
    """
    kinds = (("email", EMAIL_PATTERN), ("phone", PHONE_PATTERN))
    with conn.cursor() as cur:
        cur.execute(
            "select c.table_schema, c.table_name, array_agg(c.column_name::text order by c.ordinal_position) "
            "from information_schema.columns c join information_schema.tables t using (table_schema, table_name) "
            "where c.table_schema = any(%s) and c.data_type = any(%s) and t.table_type in ('BASE TABLE', 'LOCAL TEMPORARY') "
            "group by 1, 2 order by 1, 2",
            (list(schemas), list(_TEXT_TYPES)),
        )
        tables = cur.fetchall()
        findings = []
        for schema, table, columns in tables:
            checks, params, labels = [], [], []
            for column in columns:
                value = sql.SQL("{}::text").format(sql.Identifier(column))
                for kind, pattern in kinds:
                    checks.append(
                        sql.SQL("count(*) filter (where {v} ~ %s), min({v}) filter (where {v} ~ %s)").format(v=value)
                    )
                    params += [pattern, pattern]
                    labels.append((column, kind))
            cur.execute(
                sql.SQL("select {} from {}").format(sql.SQL(", ").join(checks), sql.Identifier(schema, table)), params
            )
            row = cur.fetchone()
            for index, (column, kind) in enumerate(labels):
                rows, example = row[2 * index], row[2 * index + 1]
                if rows:
                    findings.append(PiiFinding(f"{schema}.{table}", column, kind, rows, example))
    return findings
