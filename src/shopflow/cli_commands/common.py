"""Helpers shared by the CLI commands: settings, console, turning known errors into clean exits."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console

from shopflow.config import ConfigError, Settings, load_settings
from shopflow.services.process import ServiceError

console = Console()
err_console = Console(stderr=True)

# Errors whose message is the whole story: printed without a traceback, exit code 1.
KNOWN_ERRORS: tuple[type[Exception], ...] = (ConfigError, ServiceError)


def register_known_error(kind: type[Exception]) -> None:
    """Let a stage's error type print as a clean one-line failure."""
    global KNOWN_ERRORS
    if kind not in KNOWN_ERRORS:
        KNOWN_ERRORS = (*KNOWN_ERRORS, kind)


@contextlib.contextmanager
def clean_errors() -> Iterator[None]:
    try:
        yield
    except KNOWN_ERRORS as err:
        err_console.print(f"[bold red]error:[/] {type(err).__name__}: {err}", highlight=False)
        raise typer.Exit(1) from None


def settings() -> Settings:
    with clean_errors():
        return load_settings()
