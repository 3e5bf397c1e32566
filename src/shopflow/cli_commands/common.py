"""Helpers shared by the CLI commands: settings, console, turning known errors into clean exits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console

from shopflow.config import Settings, load_settings
from shopflow.errors import ShopflowError

console = Console()
err_console = Console(stderr=True)


@contextlib.contextmanager
def clean_errors() -> Iterator[None]:
    try:
        yield
    # ShopflowError's message is the whole story: one line, no traceback, exit code 1.
    except ShopflowError as err:
        err_console.print(f"[bold red]error:[/] {type(err).__name__}: {err}", highlight=False)
        raise typer.Exit(1) from None


def settings() -> Settings:
    with clean_errors():
        return load_settings()
