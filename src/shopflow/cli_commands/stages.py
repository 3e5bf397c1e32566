"""`shopflow transform | dashboards | metabase`: the stages after the raw load."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shopflow.cli_commands.common import clean_errors, console, settings

app = typer.Typer()
dashboards_app = typer.Typer(help="Built-in HTML dashboards.", no_args_is_help=True)
metabase_app = typer.Typer(help="Provision the dashboards into Metabase through its REST API.", no_args_is_help=True)
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(metabase_app, name="metabase")


@app.command()
def transform(
    full_refresh: Annotated[bool, typer.Option(help="Rebuild incremental models from scratch.")] = False,
    select: Annotated[str | None, typer.Option(help="dbt node selection, e.g. 'marts' or '+fact_orders'.")] = None,
) -> None:
    """Run `dbt build` (models, data tests, unit tests) on the warehouse."""
    from shopflow.transform.runner import run_dbt

    args = ["build", *(["--full-refresh"] if full_refresh else []), *(["--select", select] if select else [])]
    cfg = settings()
    with clean_errors(), console.status("dbt build..."):
        result = run_dbt(args, cfg)
    statuses: dict[str, int] = {}
    for node in result.result or []:
        statuses[str(node.status)] = statuses.get(str(node.status), 0) + 1
    console.print("dbt build finished: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))


@dashboards_app.command("render")
def render(
    out_dir: Annotated[
        Path | None, typer.Option(help="Output folder (default: <state dir>/output/dashboards).")
    ] = None,
) -> None:
    """Render every dashboard as a self-contained HTML page plus an index."""
    from shopflow.dashboards import render_dashboards

    cfg = settings()
    with clean_errors(), console.status("rendering dashboards..."):
        index = render_dashboards(cfg.warehouse_dsn, out_dir or cfg.output_dir / "dashboards")
    console.print(f"dashboards written: {index}")


@metabase_app.command("provision")
def provision() -> None:
    """Set up Metabase (first run), the warehouse connection, collection, cards and dashboards; idempotent."""
    from shopflow.dashboards import provision_from_settings

    cfg = settings()
    with clean_errors(), console.status("waiting for Metabase, then provisioning..."):
        report = provision_from_settings(cfg.metabase, cfg.warehouse_dsn)
    console.print(report.summary())
    console.print(
        f"Metabase is ready: open {report.metabase_url} and log in as {cfg.metabase.admin_email} "
        "(password: METABASE_ADMIN_PASSWORD, in .env for the compose stack)"
    )
