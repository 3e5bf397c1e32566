"""`shopflow services ...`: the embedded PostgreSQL, S3 server and FakeStore API."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from shopflow.cli_commands.common import clean_errors, console, settings
from shopflow.services import manager
from shopflow.services.fakestore_api import serve

app = typer.Typer(help="Start, stop and inspect the embedded services.", no_args_is_help=True)


def _print(states: list[manager.ServiceState], title: str) -> None:
    table = Table(title=title)
    for column in ("service", "mode", "state", "endpoint"):
        table.add_column(column)
    for s in states:
        table.add_row(s.name, s.mode, s.state, s.endpoint)
    console.print(table)


@app.command()
def up() -> None:
    """Start the embedded services (idempotent: running ones are reused)."""
    cfg = settings()
    started = time.monotonic()
    with clean_errors(), console.status("starting services..."):
        states = manager.services_up(cfg)
    _print(states, f"services up in {time.monotonic() - started:.1f} s (state: {cfg.state_dir})")


@app.command()
def down() -> None:
    """Stop the embedded services and free their ports."""
    cfg = settings()
    with clean_errors(), console.status("stopping services..."):
        states = manager.services_down(cfg)
    _print(states, "services down")


@app.command()
def status() -> None:
    """Show whether each service answers."""
    cfg = settings()
    with clean_errors():
        states = manager.services_status(cfg)
    _print(states, "services")
    if any(s.state == "not running" for s in states):
        raise typer.Exit(3)


@app.command()
def env() -> None:
    """Print `export ...` lines for psql, aws-cli and boto3 (use: eval "$(shopflow services env)")."""
    cfg = settings()
    for line in manager.env_exports(cfg):
        print(line)


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Address to bind (0.0.0.0 only inside a container).")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: SHOPFLOW_API_PORT, or 58080).")] = None,
) -> None:
    """Run the FakeStore-compatible API in the foreground (its OpenAPI document: /openapi.json)."""
    port = port or settings().api_port
    with clean_errors():
        serve(host, port)
