"""The `shopflow` command line: services, pipeline stages, transform, quality, dashboards."""

from __future__ import annotations

import warnings

# platformdirs warns on every import when XDG_RUNTIME_DIR is unset (root shells, CI): noise, not a fault.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

import typer  # noqa: E402

from shopflow.cli_commands import airflow, demo, pipeline, quality, services, stages, warehouse  # noqa: E402

app = typer.Typer(
    help="Shopflow: e-commerce analytics platform (sources -> lake -> quality gate -> warehouse -> dbt -> dashboards).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(services.app, name="services")
# Merged into the top level: `shopflow simulate|extract|load|run|rebuild`, `transform`, `dashboards ...`,
# `metabase ...`, `demo`.
app.add_typer(pipeline.app)
app.add_typer(stages.app)
app.add_typer(demo.app)
app.add_typer(quality.app, name="quality")
app.add_typer(airflow.app, name="airflow")
app.add_typer(warehouse.app, name="warehouse")


if __name__ == "__main__":
    app()
