"""`shopflow airflow up | env | manifest`: Airflow on this machine against the embedded services."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import typer

from shopflow.cli_commands.common import clean_errors, console, err_console, settings
from shopflow.orchestration import local_airflow as la
from shopflow.orchestration.dbt_manifest import build_manifest


def _where(sqlalchemy_url: str) -> str:
    """host:port/database of a database URL, without its credentials."""
    parts = urlsplit(sqlalchemy_url)
    return f"{parts.hostname}:{parts.port}{parts.path}" if parts.hostname else sqlalchemy_url.split("://", 1)[0]


app = typer.Typer(help="Run Airflow locally (LocalExecutor) on the embedded services.", no_args_is_help=True)


@app.command()
def up() -> None:
    """Start the services, migrate Airflow's database, build the dbt manifest, run Airflow until Ctrl-C."""
    from shopflow.services.manager import services_up

    cfg = settings()
    with clean_errors():
        airflow = la.local_airflow(cfg, start=la.ensure_start_date(cfg))
    with clean_errors(), la.single_instance(airflow):
        started = time.monotonic()
        with console.status("starting the embedded services..."):
            services_up(cfg)
        with console.status("migrating Airflow's metadata database..."):
            migrate_s = la.migrate(airflow)
        console.print(f"Airflow metadata database {_where(cfg.airflow_sqlalchemy_conn)} migrated in {migrate_s:.1f} s")
        with console.status("dbt parse (the transform DAG's manifest)..."):
            manifest, parse_s = build_manifest(cfg)
        console.print(f"dbt manifest {manifest} built in {parse_s:.1f} s")
        password = la.admin_password(airflow)
        console.print(f"starting {', '.join(la.COMPONENTS)} (logs in {airflow.logs_dir})...")

        def ready(seconds: float) -> None:
            start = airflow.environment["SHOPFLOW_START_DATE"]
            console.print(
                f"\n[bold green]Airflow is up[/] in {time.monotonic() - started:.0f} s "
                f"(components healthy after {seconds:.0f} s)\n"
                f"  UI:       {airflow.url}\n"
                f"  login:    {la.ADMIN_USER} / {password}\n"
                f'  CLI:      eval "$(shopflow airflow env)"; airflow dags list\n'
                f"  lineage:  {cfg.lineage.url or cfg.lineage_file if cfg.lineage.enabled else 'off'}\n"
                f"DAGs start paused. Unpaused, the daily DAGs load every day since {start} (catchup), then "
                "one day each midnight UTC; backfills need them unpaused too (docs/orchestration.md).\n"
                "Ctrl-C stops Airflow (the embedded services keep running).",
                highlight=False,
                soft_wrap=True,
            )

        def stopping(message: str) -> None:
            err_console.print(message, highlight=False)

        code = la.supervise(airflow, on_ready=ready, on_stopping=stopping)
    console.print("Airflow stopped")
    raise typer.Exit(code)


@app.command()
def env() -> None:
    """Print `export ...` lines for the `airflow` CLI (use: eval "$(shopflow airflow env)")."""
    cfg = settings()
    with clean_errors():
        airflow = la.local_airflow(cfg, start=la.ensure_start_date(cfg))
    for line in la.env_exports(airflow):
        print(line)


@app.command()
def manifest() -> None:
    """Rebuild transform/target/manifest.json (dbt parse) after changing the dbt project."""
    cfg = settings()
    with clean_errors(), console.status("dbt parse..."):
        path, seconds = build_manifest(cfg)
    console.print(f"dbt manifest {path} built in {seconds:.1f} s")
