"""`shopflow demo`: the whole pipeline on the embedded services, with a summary of what it did."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from shopflow.cli_commands.common import Scale, Seed, clean_errors, console, parse_date, simulation_settings
from shopflow.demo import DEFAULT_DAYS, DEFAULT_END, DemoReport, run_demo

app = typer.Typer()


def print_report(report: DemoReport) -> None:
    timings = Table(title="time per stage")
    timings.add_column("stage")
    timings.add_column("seconds", justify="right")
    for name, seconds in report.stage_seconds.items():
        timings.add_row(name, f"{seconds:.1f}")
    console.print(timings)

    rows = Table(title="warehouse rows")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in {**report.raw_rows, **{f"marts.{k}": v for k, v in report.mart_rows.items()}}.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)

    b = report.business
    console.print(
        f"[bold]replayed[/] {report.first_replayed}..{report.last_replayed}: "
        f"{report.partitions_loaded} partitions loaded, "
        f"{report.validations_passed}/{report.validations_run} partition validations passed "
        f"({report.expectations_evaluated:,} expectations); dbt's tests passed on every mart"
    )
    console.print(
        f"[bold]business[/] revenue ${b['revenue']:,.2f} from {b['revenue_orders']:,} orders not cancelled or "
        f"returned (average ${b['revenue'] / max(b['revenue_orders'], 1):,.2f}), "
        f"{b['customers_who_ordered']:,} customers; "
        f"dim_customers has {b['customer_versions']:,} versions, "
        f"{b['customers_with_several_versions']:,} customers with more than one (SCD2)"
    )
    share = report.gate_seconds / report.total_seconds if report.total_seconds else 0.0
    console.print(
        f"[bold]quality gate[/] {report.gate_seconds:.1f} s of the run's {report.total_seconds:.1f} s "
        f"({share:.1%}) for {report.validations_run} raw partitions"
    )
    console.print(f"[bold]dashboards[/]  {report.dashboards_index}")
    console.print(f"[bold]data docs[/]   {report.data_docs_index}")


@app.command()
def demo(
    end: Annotated[
        date, typer.Option("--end", help="Last replayed date (YYYY-MM-DD).", parser=parse_date)
    ] = DEFAULT_END,
    days: Annotated[
        int, typer.Option(help="Days replayed through the full pipeline; history covers the rest of the year.")
    ] = DEFAULT_DAYS,
    scale: Scale = None,
    seed: Seed = None,
) -> None:
    """Run the whole pipeline on the configured services and write the dashboards."""
    cfg = simulation_settings(scale, seed)
    with clean_errors():
        report = run_demo(
            cfg,
            end=end,
            days=days,
            announce=lambda stage: console.print(f"[cyan]>>[/] {stage}"),
            on_day=lambda dt, state: console.print(f"   {dt} {state}"),
        )
    print_report(report)
