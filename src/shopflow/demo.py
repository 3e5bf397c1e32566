"""The end-to-end demo: a year of the shop replayed day by day through the whole pipeline.

Every day of the year (or only the last `days`, the earlier ones then simulated as history without
being extracted) is run the way production runs it: simulate the day, extract every source into the
lake, gate each partition, load it. dbt builds and tests the star schema and marts, and the
dashboards and Data Docs are written. The report says where the time went, the gate's share included.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import psycopg2

from shopflow.config import Settings
from shopflow.contracts import ENTITIES, LOAD_ORDER
from shopflow.lake import Lake
from shopflow.pipeline import (
    build_data_docs_from_ops,
    date_range,
    extract_entity,
    load_entity,
    open_lake,
)
from shopflow.services.s3 import s3_client

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


def _count_rows(dsn: str, schema: str) -> dict[str, int]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE' "
            "order by table_name",
            (schema,),
        )
        tables = [r[0] for r in cur.fetchall()]
        counts = {}
        for table in tables:
            cur.execute(f'select count(*) from "{schema}"."{table}"')
            counts[table] = cur.fetchone()[0]
    conn.close()
    return counts


def _analyze(dsn: str, schema: str) -> None:
    """Refresh the planner statistics of every table in `schema`."""
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_name from information_schema.tables where table_schema = %s and table_type = 'BASE TABLE'",
            (schema,),
        )
        for (table,) in cur.fetchall():
            cur.execute(f'analyze "{schema}"."{table}"')
    conn.close()


def _business_figures(dsn: str) -> dict[str, float]:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
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
    conn.close()
    return {
        "revenue": float(revenue),
        "revenue_orders": orders,
        "customers_who_ordered": buyers,
        "customer_versions": versions,
        "customers_with_several_versions": multi,
    }


SHOP_TABLES = tuple(name for name in LOAD_ORDER if name.startswith("shop."))


def _replay(
    settings: Settings,
    lake: Lake,
    catalog: list[dict],
    first: date,
    last: date,
    scale: float,
    seed: int,
    report: DemoReport,
    on_day: Callable[[date, str], None] | None,
) -> dict[str, float]:
    """Every day from `first` to `last` through simulate, extract, gate and load, as production runs it.

    The shop must be extracted right after each simulated day (its extract reads the rows changed that
    day), so this thread simulates and extracts the shop tables day by day. A second thread extracts
    each simulated day's catalog snapshot and clickstream, a third gates and loads the day's five
    partitions once both extracts are done. The stages wait on the lake and the databases more than
    they compute, so they overlap; the day order of each stage is kept. A rejected partition raises
    QualityGateError and stops the replay, as a failed DAG run would.
    """
    from shopflow.sources.shop_simulator import simulate_days

    timings = {"simulate": 0.0, "extract shop": 0.0, "extract catalog + clickstream": 0.0, "gate": 0.0, "load": 0.0}
    simulated: queue.Queue[date | None] = queue.Queue()
    others_extracted: queue.Queue[date | None] = queue.Queue()
    shop_extracted: queue.Queue[date | None] = queue.Queue()
    failure: list[BaseException] = []
    stop = threading.Event()

    def extract_others() -> None:
        others_lake = open_lake(settings)
        try:
            while (dt := simulated.get()) is not None and not stop.is_set():
                t = time.monotonic()
                for name in LOAD_ORDER:
                    if name not in SHOP_TABLES:
                        extract_entity(settings, others_lake, name, dt)
                timings["extract catalog + clickstream"] += time.monotonic() - t
                others_extracted.put(dt)
        except BaseException as exc:  # handed to the main thread, which re-raises it
            failure.append(exc)
            stop.set()
        finally:
            others_extracted.put(None)

    def gate_and_load() -> None:
        loader_lake = open_lake(settings)
        warehouse = psycopg2.connect(settings.warehouse_dsn)
        # The day's partitions are read from the lake side by side (each read waits on the S3 server),
        # then gated and loaded in LOAD_ORDER on one connection.
        readers = ThreadPoolExecutor(max_workers=len(LOAD_ORDER), thread_name_prefix="read-partition")
        try:
            while (dt := shop_extracted.get()) is not None and not stop.is_set():
                if others_extracted.get() is None:
                    break
                reads = {name: readers.submit(loader_lake.read_partition, ENTITIES[name], dt) for name in LOAD_ORDER}
                for name in LOAD_ORDER:
                    t = time.monotonic()
                    partition = reads[name].result()
                    timings["load"] += time.monotonic() - t  # the wait for a read that ran beside earlier loads
                    result = load_entity(settings, loader_lake, name, dt, warehouse, partition=partition)
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
            warehouse.close()

    workers = [
        threading.Thread(target=extract_others, name="extract-catalog-clickstream"),
        threading.Thread(target=gate_and_load, name="gate-and-load"),
    ]
    for worker in workers:
        worker.start()
    shop_pool = ThreadPoolExecutor(max_workers=len(SHOP_TABLES), thread_name_prefix="extract-shop")
    try:
        for dt in date_range(first, last):
            if stop.is_set():
                break
            t = time.monotonic()
            simulate_days(settings.shop_dsn, lake.client, lake.bucket, catalog, dt, dt, scale=scale, seed=seed)
            timings["simulate"] += time.monotonic() - t
            simulated.put(dt)
            t = time.monotonic()
            # The three tables are independent: read them side by side (each waits on the databases
            # and the lake), before the next day changes the shop.
            for future in [shop_pool.submit(extract_entity, settings, lake, name, dt) for name in SHOP_TABLES]:
                future.result()
            timings["extract shop"] += time.monotonic() - t
            shop_extracted.put(dt)
    except BaseException as exc:
        failure.append(exc)
        stop.set()
    finally:
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
    scale: float = 1.0,
    seed: int = 42,
    announce: Callable[[str], None] = print,
    on_day: Callable[[date, str], None] | None = None,
) -> DemoReport:
    """Run the whole pipeline on the configured services and return what it did."""
    from shopflow.dashboards import render_dashboards
    from shopflow.services.manager import services_up
    from shopflow.sources.fakestore_client import fetch_products
    from shopflow.sources.shop_simulator import simulate_days
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
    lake = open_lake(settings)
    catalog = fetch_products(settings.fakestore_api_url)
    if first_replayed > history_start:
        with stage(f"simulate history {history_start}..{first_replayed - timedelta(days=1)}"):
            simulate_days(
                settings.shop_dsn,
                s3_client(settings),
                settings.lake_bucket,
                catalog,
                history_start,
                first_replayed - timedelta(days=1),
                scale=scale,
                seed=seed,
            )
    with stage(f"replay {first_replayed}..{end}: simulate, extract, gate, load"):
        timings = _replay(settings, lake, catalog, first_replayed, end, scale, seed, report, on_day)
    for name, seconds in timings.items():
        report.stage_seconds[f"  {name} (summed over the day loop)"] = seconds
    report.gate_seconds = timings["gate"]

    with stage("dbt build (star schema + tests)"):
        # The raw tables were filled minutes ago: without statistics (autovacuum may not have analysed
        # them yet) the planner picks nested loops over the staging views and the build crawls.
        _analyze(settings.warehouse_dsn, "raw")
        build(settings)
    with stage("quality Data Docs"):
        # The latest results (the marts' and the last weeks' partitions): every page costs GX rendering.
        report.data_docs_index = build_data_docs_from_ops(settings.warehouse_dsn, DATA_DOCS_LIMIT)
    with stage("dashboards (HTML)"):
        report.dashboards_index = render_dashboards(settings.warehouse_dsn, settings.output_dir / "dashboards")

    raw_counts = _count_rows(settings.warehouse_dsn, "raw")
    report.raw_rows = {f"raw.{e.table}": raw_counts[e.table] for e in ENTITIES.values() if e.table in raw_counts}
    report.mart_rows = _count_rows(settings.warehouse_dsn, "marts")
    report.business = _business_figures(settings.warehouse_dsn)
    report.total_seconds = time.monotonic() - started
    return report
