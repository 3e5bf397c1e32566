"""`shopflow quality ...`: list the suites, validate a partition file, render Data Docs.

A typer sub-app, mounted by `shopflow.cli` under the name `quality`.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

# Suites (and pandas with them) are imported inside the commands: `shopflow --help` stays fast.
import typer

from shopflow.cli_commands.common import clean_errors, console, settings
from shopflow.contracts import ENTITIES, get_entity

app = typer.Typer(
    help="Quality gate: GX suites over raw partitions, their results and Data Docs.", no_args_is_help=True
)


@app.command()
def suites() -> None:
    """Count the expectations of every raw suite, by family (as for a busy day with known ids)."""
    from shopflow.quality.suites import FAMILIES, HOUR_COVERAGE_MIN_EVENTS, PartitionContext, build_suite_spec

    specs = [
        build_suite_spec(
            PartitionContext(
                entity,
                date(2026, 1, 1),
                HOUR_COVERAGE_MIN_EVENTS,
                known_product_ids=frozenset({1}),
                known_order_ids=frozenset({1}),
            )
        )
        for entity in ENTITIES.values()
    ]
    # Plain aligned lines, never wrapped: a table of eleven columns would not fit a terminal.
    lines = [f"{'suite':40} {'total':>5} " + " ".join(f"{f[:11]:>11}" for f in FAMILIES)]
    total = 0
    for spec in specs:
        counts = Counter(kwargs["meta"]["family"] for _, kwargs in spec.items)
        total += len(spec.items)
        lines.append(f"{spec.name:40} {len(spec.items):>5} " + " ".join(f"{counts.get(f, 0):>11}" for f in FAMILIES))
    lines.append(f"{'all suites':40} {total:>5}")
    console.print("\n".join(lines), highlight=False, soft_wrap=True)


@app.command()
def check(
    entity: Annotated[str, typer.Argument(help=f"One of: {', '.join(ENTITIES)}.")],
    dt: Annotated[datetime, typer.Argument(formats=["%Y-%m-%d"], help="The partition's logical date.")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The partition's CSV (gzipped or not).")],
    rows: Annotated[int, typer.Option("--rows", help="Row count the manifest states.")],
    full_history: Annotated[bool, typer.Option(help="The partition is a shop table's first, full extraction.")] = False,
) -> None:
    """Validate a local partition file (e.g. a quarantined one); referential checks are skipped."""
    from shopflow.quality.gate import QualityGateError, validate_csv
    from shopflow.quality.suites import PartitionContext

    try:
        ctx = PartitionContext(get_entity(entity), dt.date(), rows, full_history=full_history)
    except (KeyError, ValueError) as exc:
        raise typer.BadParameter(str(exc).strip("'\"")) from None
    try:
        outcome = validate_csv(ctx, file.read_bytes())
    except QualityGateError as exc:
        console.print(exc.outcome.summary(), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(outcome.summary() + f" ({outcome.duration_s:.2f} s)", highlight=False, soft_wrap=True)


@app.command()
def docs(
    limit: Annotated[int, typer.Option(help="Render at most this many of the latest recorded results.")] = 500,
) -> None:
    """Render GX Data Docs from ops.validation_results; prints the site's index.html."""
    from shopflow.pipeline import build_data_docs_from_ops

    cfg = settings()
    with clean_errors():
        index = build_data_docs_from_ops(cfg.warehouse_dsn, limit)
    console.print(str(index), highlight=False, soft_wrap=True)
