"""Run card SQL against the warehouse, read only, and check the result has the declared columns."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions

from shopflow.dashboards.definitions import Card
from shopflow.errors import ShopflowError

DEFAULT_STATEMENT_TIMEOUT_MS = 60_000


class CardQueryError(ShopflowError, RuntimeError):
    """One or more cards failed to run or returned other columns than their YAML declares."""


@dataclass(frozen=True)
class CardResult:
    """The rows a card's SQL returned, with the column names as the database reported them."""

    card: Card
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    elapsed_s: float

    def column_values(self, name: str | None) -> list[Any]:
        """Every value of column `name`, in row order (the card must declare it)."""
        index = self.columns.index(self.card.column(name).name)
        return [row[index] for row in self.rows]

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts keyed by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _redact(dsn: str) -> str:
    try:
        params = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return "<unparsable DSN>"
    return f"{params.get('host', 'localhost')}:{params.get('port', 5432)}/{params.get('dbname', '')}"


@contextmanager
def readonly_connection(
    dsn: str, statement_timeout_ms: int = DEFAULT_STATEMENT_TIMEOUT_MS
) -> Iterator[psycopg2.extensions.connection]:
    """A connection whose transactions are READ ONLY, so card SQL can never change the warehouse."""
    try:
        conn = psycopg2.connect(dsn, options=f"-c statement_timeout={int(statement_timeout_ms)}", connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise CardQueryError(f"cannot connect to the warehouse at {_redact(dsn)}: {exc}".strip()) from exc
    try:
        conn.set_session(readonly=True, autocommit=False)
        yield conn
    finally:
        conn.close()


def run_card(conn: psycopg2.extensions.connection, card: Card) -> CardResult:
    """Run one card's SQL in its own read-only transaction; raise CardQueryError naming the card."""
    started = time.perf_counter()
    try:
        with conn.cursor() as cur:
            cur.execute(card.sql)
            columns = tuple(d.name for d in cur.description or ())
            rows = cur.fetchall()
    except psycopg2.Error as exc:
        conn.rollback()
        message = (exc.pgerror or str(exc)).strip()
        raise CardQueryError(f"card {card.key} ({card.sql_path}) failed: {message}") from exc
    finally:
        if not conn.closed and conn.status != psycopg2.extensions.STATUS_READY:
            conn.rollback()
    elapsed = time.perf_counter() - started
    if columns != card.column_names:
        raise CardQueryError(
            f"card {card.key}: {card.sql_path.name} returned columns {list(columns)} but "
            f"{card.yml_path.name} declares {list(card.column_names)}; make them match"
        )
    return CardResult(card=card, columns=columns, rows=rows, elapsed_s=elapsed)


def run_cards(dsn: str, cards: Iterable[Card]) -> dict[str, CardResult]:
    """Run every card; raise one CardQueryError listing every card that failed."""
    results: dict[str, CardResult] = {}
    failures: list[str] = []
    with readonly_connection(dsn) as conn:
        for card in cards:
            try:
                results[card.key] = run_card(conn, card)
            except CardQueryError as exc:
                failures.append(str(exc))
    if failures:
        count = len(failures)
        raise CardQueryError(
            f"{count} card{'s' if count != 1 else ''} failed on {_redact(dsn)}:\n"
            + "\n".join(f"  - {f}" for f in failures)
        )
    return results
