"""The end-to-end demo: a year of the shop replayed day by day through the whole pipeline.

Every day of the year (or only the last `days`, the earlier ones then simulated as history without
being extracted) is run the way production runs it: simulate the day, extract every source into the
lake, gate each partition, load it. dbt builds and tests the star schema and marts, and the
dashboards and Data Docs are written. The report says where the time went, the gate's share included.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path

from psycopg2 import sql

from shopflow.config import Settings
from shopflow.contracts import ENTITIES, LOAD_ORDER
from shopflow.db import connect, table_names, table_row_counts
from shopflow.pipeline import Pipeline, build_data_docs_from_ops

DEFAULT_END = date(2025, 12, 31)
DEFAULT_DAYS = 365  # the whole year, every day through the pipeline
DATA_DOCS_LIMIT = 120


@dataclass
class DemoReport:
    first_replayed: date
    last_replayed: date
    stage_seconds: dict[str, float] = field(default_factory=dict)
    partitions_loaded: int = 0
    validations_run: int = 0
    validations_passed: int = 0
    expectations_evaluated: int = 0
    raw_rows: dict[str, int] = field(default_factory=dict)
    mart_rows: dict[str, int] = field(default_factory=dict)
    business: dict[str, float] = field(default_factory=dict)
    gate_seconds: float = 0.0  # the raw partitions' quality gate, summed
    total_seconds: float = 0.0
    dashboards_index: Path | None = None
    data_docs_index: Path | None = None


@contextmanager
def _timed_stage(report: DemoReport, announce: Callable[[str], None], name: str) -> Iterator[None]:
    """Announce a stage and record how long it took in the report."""
    announce(name)
    started = time.monotonic()
    try:
        yield
    finally:
        report.stage_seconds[name] = time.monotonic() - started


def _analyze(dsn: str, schema: str) -> None:
    """Refresh the planner statistics of every table in `schema`."""
    with connect(dsn) as conn, conn.cursor() as cur:
        for table in table_names(conn, schema):
            cur.execute(sql.SQL("analyze {}").format(sql.Identifier(schema, table)))
        conn.commit()


def _business_figures(dsn: str) -> dict[str, float]:
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            """
            select
                coalesce(sum(line_revenue) filter (where is_revenue), 0),
                count(distinct order_id) filter (where is_revenue),
                count(distinct customer_id) filter (where is_revenue),
                (select count(*) from marts.dim_customers),
                (select count(*) from (select customer_id from marts.dim_customers
                                       group by customer_id having count(*) > 1) as versioned)
            from marts.fact_orders
            """
        )
        revenue, orders, buyers, versions, multi = cur.fetchone()
    return {
        "revenue": float(revenue),
        "revenue_orders": orders,
        "customers_who_ordered": buyers,
        "customer_versions": versions,
        "customers_with_several_versions": multi,
    }


SHOP_TABLES = tuple(name for name in LOAD_ORDER if name.startswith("shop."))


class _Stop(Exception):
    """Another stage of the replay failed: the simulation stops at the day it reached."""


def _replay(
    pipeline: Pipeline,
    catalog: list[dict],
    first: date,
    last: date,
    report: DemoReport,
    on_day: Callable[[date, str], None] | None,
) -> dict[str, float]:
    """Every day from `first` to `last` through simulate, extract, gate and load, as production runs it.

    The shop must be extracted right after each simulated day (its extract reads the rows changed that
    day), so the simulation, one run over the whole range, extracts the shop tables as each day is
    committed. A second thread extracts each simulated day's catalog snapshot and clickstream, a third
    gates and loads the day's five partitions once both extracts are done. The stages wait on the lake
    and the databases more than they compute, so they overlap; the day order of each stage is kept. A
    rejected partition raises QualityGateError and stops the replay, as a failed DAG run would.
    """
    timings = {"simulate": 0.0, "extract shop": 0.0, "extract catalog + clickstream": 0.0, "gate": 0.0, "load": 0.0}
    simulated: queue.Queue[date | None] = queue.Queue()
    others_extracted: queue.Queue[date | None] = queue.Queue()
    shop_extracted: queue.Queue[date | None] = queue.Queue()
    failure: list[BaseException] = []
    stop = threading.Event()

    # Each thread has a pipeline (an S3 client, its connection pool) of its own: one client's pool of
    # 10 connections would be shared by the simulator's uploads, the extracts and the partition reads.
    def extract_others() -> None:
        others = Pipeline.from_settings(pipeline.settings)
        try:
            while (dt := simulated.get()) is not None and not stop.is_set():
                t = time.monotonic()
                for name in LOAD_ORDER:
                    if name not in SHOP_TABLES:
                        others.extract(name, dt)
                timings["extract catalog + clickstream"] += time.monotonic() - t
                others_extracted.put(dt)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            failure.append(exc)
            stop.set()
        finally:
            others_extracted.put(None)

    def gate_and_load() -> None:
        loader = Pipeline.from_settings(pipeline.settings)
        # The day's partitions are read from the lake side by side (each read waits on the S3 server),
        # then gated and loaded in LOAD_ORDER on one connection.
        readers = ThreadPoolExecutor(max_workers=len(LOAD_ORDER), thread_name_prefix="read-partition")
        try:
            with loader.warehouse() as warehouse:
                while (dt := shop_extracted.get()) is not None and not stop.is_set():
                    if others_extracted.get() is None:
                        break
                    reads = {
                        name: readers.submit(loader.lake.read_partition, ENTITIES[name], dt) for name in LOAD_ORDER
                    }
                    for name in LOAD_ORDER:
                        t = time.monotonic()
                        partition = reads[name].result()
                        timings["load"] += time.monotonic() - t  # the wait for a read that ran beside earlier loads
                        result = loader.load(name, dt, warehouse, partition=partition)
                        report.partitions_loaded += 1
                        report.validations_run += 1
                        report.validations_passed += 1
                        report.expectations_evaluated += result.expectations_evaluated
                        timings["gate"] += result.gate_seconds
                        timings["load"] += result.load_seconds + result.read_seconds
                    if on_day:
                        on_day(dt, "loaded")
        except BaseException as exc:
            failure.append(exc)
            stop.set()
        finally:
            readers.shutdown()

    shop_pool = ThreadPoolExecutor(max_workers=len(SHOP_TABLES), thread_name_prefix="extract-shop")

    def extract_shop(dt: date) -> None:
        """Runs inside the simulation, after `dt` is committed and before the next day changes the shop."""
        if stop.is_set():
            raise _Stop
        simulated.put(dt)
        t = time.monotonic()
        # The three tables are independent: read them side by side (each waits on the databases and the lake).
        for future in [shop_pool.submit(pipeline.extract, name, dt) for name in SHOP_TABLES]:
            future.result()
        timings["extract shop"] += time.monotonic() - t
        shop_extracted.put(dt)

    workers = [
        threading.Thread(target=extract_others, name="extract-catalog-clickstream"),
        threading.Thread(target=gate_and_load, name="gate-and-load"),
    ]
    for worker in workers:
        worker.start()
    started = time.monotonic()
    try:
        pipeline.simulate(first, last, catalog=catalog, progress=extract_shop)
    except _Stop:
        pass
    except BaseException as exc:
        failure.append(exc)
        stop.set()
    finally:
        timings["simulate"] = time.monotonic() - started - timings["extract shop"]
        shop_pool.shutdown()
        simulated.put(None)
        shop_extracted.put(None)
        for worker in workers:
            worker.join()
    if failure:
        raise failure[0]
    return timings


def run_demo(
    settings: Settings,
    *,
    end: date = DEFAULT_END,
    days: int = DEFAULT_DAYS,
    announce: Callable[[str], None] = print,
    on_day: Callable[[date, str], None] | None = None,
) -> DemoReport:
    """Run the whole pipeline on the configured services (scale and seed from `settings.simulation`)."""
    from shopflow.dashboards import render_dashboards
    from shopflow.services.manager import services_up
    from shopflow.transform.runner import build

    if days < 1:
        raise ValueError("the demo needs at least one replayed day (--days 1 or more)")
    first_replayed = end - timedelta(days=days - 1)
    history_start = end - timedelta(days=364)
    report = DemoReport(first_replayed, end)
    started = time.monotonic()
    stage = partial(_timed_stage, report, announce)

    with stage("services"):
        services_up(settings)
    pipeline = Pipeline.from_settings(settings)
    catalog = pipeline.catalog()
    if first_replayed > history_start:
        with stage(f"simulate history {history_start}..{first_replayed - timedelta(days=1)}"):
            pipeline.simulate(history_start, first_replayed - timedelta(days=1), catalog=catalog)
    with stage(f"replay {first_replayed}..{end}: simulate, extract, gate, load"):
        timings = _replay(pipeline, catalog, first_replayed, end, report, on_day)
    for name, seconds in timings.items():
        report.stage_seconds[f"  {name} (summed over the day loop)"] = seconds
    report.gate_seconds = timings["gate"]

    # Data Docs read only ops.validation_results, so they render beside dbt, in a process of their own
    # (GX's rendering is Python work that would otherwise wait for dbt's threads and the GIL).
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as docs_process:
        data_docs = docs_process.submit(build_data_docs_from_ops, settings.warehouse_dsn, DATA_DOCS_LIMIT)
        with stage("dbt build (star schema + tests)"):
            # The raw tables were filled minutes ago: without statistics (autovacuum may not have analysed
            # them yet) the planner picks nested loops over the staging views and the build crawls.
            _analyze(settings.warehouse_dsn, "raw")
            build(settings)
        with stage("quality Data Docs (the part not overlapped by dbt)"):
            report.data_docs_index = data_docs.result()
    with stage("dashboards (HTML)"):
        report.dashboards_index = render_dashboards(settings.warehouse_dsn, settings.output_dir / "dashboards")

    raw_counts = table_row_counts(settings.warehouse_dsn, "raw")
    report.raw_rows = {f"raw.{e.table}": raw_counts[e.table] for e in ENTITIES.values() if e.table in raw_counts}
    report.mart_rows = table_row_counts(settings.warehouse_dsn, "marts")
    report.business = _business_figures(settings.warehouse_dsn)
    report.total_seconds = time.monotonic() - started
    return report
