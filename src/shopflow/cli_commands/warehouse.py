"""`shopflow warehouse`: administration of the warehouse database (roles per job)."""

from __future__ import annotations

import typer

from shopflow.cli_commands.common import clean_errors, console, settings

app = typer.Typer(help="Warehouse administration: roles per job.", no_args_is_help=True)


@app.command("roles")
def roles() -> None:
    """Create or update the loader, transformer, BI reader and analyst roles; idempotent.

    Passwords: WAREHOUSE_LOADER_PASSWORD, WAREHOUSE_TRANSFORMER_PASSWORD, METABASE_DB_PASSWORD,
    WAREHOUSE_ANALYST_PASSWORD.
    """
    from shopflow.warehouse.roles import ensure_warehouse_roles, role_passwords

    cfg = settings()
    with clean_errors():
        report = ensure_warehouse_roles(cfg.warehouse_dsn, role_passwords(cfg))
    console.print(f"warehouse roles ready: {report.summary()}")
