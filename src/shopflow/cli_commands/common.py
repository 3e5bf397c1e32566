"""What every command module shares: the console, settings, clean errors, the common options.

One style for the whole command line: each module under `cli_commands` defines a `typer.Typer` named
`app` (mounted by `shopflow.cli`, under a name or merged into the top level), options are declared
with `Annotated`, output goes through the rich `console`, and failures leave through `clean_errors`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from typing import Annotated

import psycopg2
import typer
from rich.console import Console

from shopflow.config import Settings, load_settings
from shopflow.errors import ShopflowError

console = Console()
err_console = Console(stderr=True)


@contextlib.contextmanager
def clean_errors() -> Iterator[None]:
    """Known failures as one line on stderr and exit code 1; anything else keeps its traceback."""
    try:
        yield
    # ShopflowError's message is the whole story: one line, no traceback.
    except ShopflowError as err:
        err_console.print(f"[bold red]error:[/] {type(err).__name__}: {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except psycopg2.OperationalError as err:
        err_console.print(
            f"[bold red]error:[/] cannot reach PostgreSQL: {str(err).strip()}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(1) from None


def settings() -> Settings:
    with clean_errors():
        return load_settings()


def simulation_settings(scale: float | None, seed: int | None) -> Settings:
    """The settings with the command line's --scale and --seed (where given) over the environment's."""
    with clean_errors():
        return load_settings().with_simulation(scale=scale, seed=seed)


def parse_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


Scale = Annotated[
    float | None,
    typer.Option(help="Volume multiplier: 1 = about 5,000 orders a year (default: SHOPFLOW_SIMULATION_SCALE, or 1)."),
]
Seed = Annotated[
    int | None,
    typer.Option(help="Random seed; the same seed gives the same shop (default: SHOPFLOW_SIMULATION_SEED, or 42)."),
]
