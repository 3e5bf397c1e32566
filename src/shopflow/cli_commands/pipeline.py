"""`shopflow simulate | extract | load | run`: the daily pipeline for one date or a date range."""

from __future__ import annotations

import time
from contextlib import closing
from datetime import date, datetime

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shopflow.cli_commands.common import clean_errors, console, settings
from shopflow.contracts import ENTITIES, LOAD_ORDER
from shopflow.pipeline import date_range, extract_entity, load_entity, open_lake


def parse_date(value: str | date) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


DateOpt = typer.Option(None, "--date", "-d", help="One logical date (YYYY-MM-DD).", parser=parse_date)
FromOpt = typer.Option(None, "--from", help="First date of a range (YYYY-MM-DD).", parser=parse_date)
ToOpt = typer.Option(None, "--to", help="Last date of a range, included (YYYY-MM-DD).", parser=parse_date)
EntityOpt = typer.Option(None, "--entity", "-e", help=f"Limit to entities: {', '.join(ENTITIES)}.")


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


def simulate_range(first: date, last: date, scale: float, seed: int) -> list:
    """Advance the shop day by day from `first` to `last` with a progress bar; returns DaySummary rows."""
    from shopflow.services.s3 import s3_client
    from shopflow.sources.fakestore_client import fetch_products
    from shopflow.sources.shop_simulator import simulate_days

    cfg = settings()
    catalog = fetch_products(cfg.fakestore_api_url)
    with progress_bar() as progress:
        task = progress.add_task(f"simulate {first}..{last}", total=(last - first).days + 1)
        return simulate_days(
            cfg.shop_dsn,
            s3_client(cfg),
            cfg.lake_bucket,
            catalog,
            first,
            last,
            scale=scale,
            seed=seed,
            progress=lambda _day: progress.advance(task),
        )


def register(app: typer.Typer) -> None:
    @app.command()
    def simulate(
        day: date | None = DateOpt,
        first: date | None = FromOpt,
        last: date | None = ToOpt,
        scale: float = typer.Option(1.0, help="Volume multiplier: 1 = about 5,000 orders a year."),
        seed: int = typer.Option(42, help="Random seed; the same seed gives the same shop."),
    ) -> None:
        """Advance the simulated shop (database + clickstream landing) over dates."""
        dates = resolve_dates(day, first, last)
        with clean_errors():
            summaries = simulate_range(dates[0], dates[-1], scale, seed)
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
        day: date | None = DateOpt,
        first: date | None = FromOpt,
        last: date | None = ToOpt,
        entity: list[str] | None = EntityOpt,
        force: bool = typer.Option(False, help="Re-read sources even where a sealed partition exists."),
    ) -> None:
        """Extract sources for dates into the lake's raw zone (sealed partitions of past days are kept)."""
        dates, names = resolve_dates(day, first, last), resolve_entities(entity)
        cfg = settings()
        lake = open_lake(cfg)
        with clean_errors(), progress_bar() as progress:
            task = progress.add_task("extract", total=len(dates) * len(names))
            for dt in dates:
                for name in names:
                    result = extract_entity(cfg, lake, name, dt, force=force)
                    action = "kept (sealed)" if result.reused else "->"
                    progress.console.print(
                        f"{dt} {name:<20} {result.row_count:>9,} rows {action} {result.key}", soft_wrap=True
                    )
                    progress.advance(task)

    @app.command()
    def load(
        day: date | None = DateOpt,
        first: date | None = FromOpt,
        last: date | None = ToOpt,
        entity: list[str] | None = EntityOpt,
    ) -> None:
        """Gate and load lake partitions into the warehouse raw schema (replaces those partitions)."""
        import psycopg2

        dates, names = resolve_dates(day, first, last), resolve_entities(entity)
        cfg = settings()
        lake = open_lake(cfg)
        with clean_errors(), progress_bar() as progress, closing(psycopg2.connect(cfg.warehouse_dsn)) as conn:
            task = progress.add_task("load", total=len(dates) * len(names))
            for dt in dates:
                for name in names:
                    result = load_entity(cfg, lake, name, dt, conn)
                    progress.console.print(
                        f"{dt} {name:<20} {result.row_count:>9,} rows loaded "
                        f"({result.expectations_evaluated} expectations passed, gate {result.gate_seconds:.2f} s, "
                        f"load {result.load_seconds:.2f} s)"
                    )
                    progress.advance(task)

    @app.command()
    def run(
        day: date | None = DateOpt,
        first: date | None = FromOpt,
        last: date | None = ToOpt,
        scale: float = typer.Option(1.0, help="Volume multiplier for the simulation."),
        seed: int = typer.Option(42, help="Random seed of the simulation."),
        simulate_shop: bool = typer.Option(True, "--simulate/--no-simulate", help="Advance the simulated shop first."),
    ) -> None:
        """For each date: simulate the day, extract every source, validate and load; per-day summary."""
        from shopflow.pipeline import run_date

        dates = resolve_dates(day, first, last)
        cfg = settings()
        lake = open_lake(cfg)
        table = Table(title="pipeline run")
        for col in ("date", *[e.split(".")[1] for e in LOAD_ORDER], "seconds"):
            table.add_column(col, justify="right")
        with clean_errors():
            for dt in dates:
                started = time.monotonic()
                if simulate_shop:
                    simulate_range(dt, dt, scale, seed)
                with console.status(f"{dt}: extract, validate, load"):
                    _, loaded = run_date(cfg, lake, dt)
                table.add_row(str(dt), *[f"{r.row_count:,}" for r in loaded], f"{time.monotonic() - started:.1f}")
        console.print(table)
        console.print(f"finished {datetime.now():%H:%M:%S}")

    @app.command()
    def rebuild() -> None:
        """Empty the warehouse raw tables and reload every partition in the lake (the lake is the record)."""
        from shopflow.pipeline import rebuild_from_lake

        cfg = settings()
        with clean_errors(), console.status("reloading the lake...") as status:
            count = rebuild_from_lake(cfg, open_lake(cfg), lambda dt, name: status.update(f"loaded {dt} {name}"))
        console.print(f"reloaded {count} partitions; run `shopflow transform --full-refresh` to rebuild the marts")
