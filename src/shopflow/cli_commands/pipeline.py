"""`shopflow simulate | extract | load | run | rebuild`: the daily pipeline for one date or a date range."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shopflow.cli_commands.common import Scale, Seed, clean_errors, console, parse_date, settings, simulation_settings
from shopflow.contracts import ENTITIES, LOAD_ORDER
from shopflow.pipeline import Pipeline, date_range

app = typer.Typer()

Day = Annotated[date | None, typer.Option("--date", "-d", help="One logical date (YYYY-MM-DD).", parser=parse_date)]
From = Annotated[date | None, typer.Option("--from", help="First date of a range (YYYY-MM-DD).", parser=parse_date)]
To = Annotated[
    date | None, typer.Option("--to", help="Last date of a range, included (YYYY-MM-DD).", parser=parse_date)
]
Entities = Annotated[
    list[str] | None, typer.Option("--entity", "-e", help=f"Limit to entities: {', '.join(ENTITIES)}.")
]


def resolve_dates(day: date | None, first: date | None, last: date | None) -> list[date]:
    if day and (first or last):
        raise typer.BadParameter("give either --date or --from/--to, not both")
    if day:
        return [day]
    if first and last:
        return list(date_range(first, last))
    raise typer.BadParameter("give --date, or --from and --to")


def resolve_entities(entities: list[str] | None) -> list[str]:
    chosen = entities or list(LOAD_ORDER)
    unknown = [e for e in chosen if e not in ENTITIES]
    if unknown:
        raise typer.BadParameter(f"unknown entity {unknown[0]!r}; expected one of {', '.join(ENTITIES)}")
    return [e for e in LOAD_ORDER if e in chosen]


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def simulate_range(pipeline: Pipeline, first: date, last: date) -> list:
    """Advance the shop day by day from `first` to `last` with a progress bar; returns DaySummary rows."""
    with progress_bar() as progress:
        task = progress.add_task(f"simulate {first}..{last}", total=(last - first).days + 1)
        return pipeline.simulate(first, last, progress=lambda _day: progress.advance(task))


@app.command()
def simulate(
    day: Day = None,
    first: From = None,
    last: To = None,
    scale: Scale = None,
    seed: Seed = None,
) -> None:
    """Advance the simulated shop (database + clickstream landing) over dates."""
    dates = resolve_dates(day, first, last)
    pipeline = Pipeline.from_settings(simulation_settings(scale, seed))
    with clean_errors():
        summaries = simulate_range(pipeline, dates[0], dates[-1])
    table = Table(title="simulated days")
    for col in ("day", "new customers", "orders", "items", "revenue", "events", "skipped"):
        table.add_column(col, justify="right")
    for s in summaries[-31:]:
        table.add_row(
            str(s.day),
            str(s.new_customers),
            str(s.orders),
            str(s.order_items),
            f"${s.revenue:,.2f}",
            str(s.events),
            "yes" if s.skipped else "",
        )
    console.print(table)


@app.command()
def extract(
    day: Day = None,
    first: From = None,
    last: To = None,
    entity: Entities = None,
    force: Annotated[bool, typer.Option(help="Re-read sources even where a sealed partition exists.")] = False,
) -> None:
    """Extract sources for dates into the lake's raw zone (sealed partitions of past days are kept)."""
    dates, names = resolve_dates(day, first, last), resolve_entities(entity)
    pipeline = Pipeline.from_settings(settings())
    with clean_errors(), progress_bar() as progress:
        task = progress.add_task("extract", total=len(dates) * len(names))
        for dt in dates:
            for name in names:
                result = pipeline.extract(name, dt, force=force)
                action = "kept (sealed)" if result.reused else "->"
                progress.console.print(
                    f"{dt} {name:<20} {result.row_count:>9,} rows {action} {result.key}", soft_wrap=True
                )
                progress.advance(task)


@app.command()
def load(
    day: Day = None,
    first: From = None,
    last: To = None,
    entity: Entities = None,
) -> None:
    """Gate and load lake partitions into the warehouse raw schema (replaces those partitions)."""
    dates, names = resolve_dates(day, first, last), resolve_entities(entity)
    pipeline = Pipeline.from_settings(settings())
    with clean_errors(), progress_bar() as progress, pipeline.warehouse() as conn:
        task = progress.add_task("load", total=len(dates) * len(names))
        for dt in dates:
            for name in names:
                result = pipeline.load(name, dt, conn)
                progress.console.print(
                    f"{dt} {name:<20} {result.row_count:>9,} rows loaded "
                    f"({result.expectations_evaluated} expectations passed, gate {result.gate_seconds:.2f} s, "
                    f"load {result.load_seconds:.2f} s)"
                )
                progress.advance(task)


@app.command()
def run(
    day: Day = None,
    first: From = None,
    last: To = None,
    scale: Scale = None,
    seed: Seed = None,
    simulate_shop: Annotated[
        bool, typer.Option("--simulate/--no-simulate", help="Advance the simulated shop first.")
    ] = True,
) -> None:
    """For each date: simulate the day, extract every source, validate and load; per-day summary."""
    dates = resolve_dates(day, first, last)
    pipeline = Pipeline.from_settings(simulation_settings(scale, seed))
    table = Table(title="pipeline run")
    for col in ("date", *[e.split(".")[1] for e in LOAD_ORDER], "seconds"):
        table.add_column(col, justify="right")
    with clean_errors():
        for dt in dates:
            started = time.monotonic()
            if simulate_shop:
                simulate_range(pipeline, dt, dt)
            with console.status(f"{dt}: extract, validate, load"):
                _, loaded = pipeline.run_date(dt)
            table.add_row(str(dt), *[f"{r.row_count:,}" for r in loaded], f"{time.monotonic() - started:.1f}")
    console.print(table)
    console.print(f"finished {datetime.now():%H:%M:%S}")


@app.command()
def rebuild() -> None:
    """Empty the warehouse raw tables and reload every partition in the lake (the lake is the record)."""
    pipeline = Pipeline.from_settings(settings())
    with clean_errors(), console.status("reloading the lake...") as status:
        count = pipeline.rebuild_from_lake(lambda dt, name: status.update(f"loaded {dt} {name}"))
    console.print(f"reloaded {count} partitions; run `shopflow transform --full-refresh` to rebuild the marts")
