"""The daily pipeline behind one facade: simulate, extract, gate and load per entity and date.

`Pipeline.from_settings()` is the one way through: the CLI, the demo and the Airflow task bodies
(`orchestration.steps`) all call it. Each step works on one logical date and can be re-run. Gating
and loading go through `warehouse.loader`, the one protocol: stage the partition in the load's
transaction, gate it there, then load or quarantine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from shopflow.config import Settings, load_settings
from shopflow.contracts import ENTITIES, LOAD_ORDER, Entity, get_entity
from shopflow.db import connect
from shopflow.extract import ExtractResult
from shopflow.lake import Lake, Partition
from shopflow.services.s3 import s3_client
from shopflow.warehouse.loader import LoadResult, gate_partition, load_partition

if TYPE_CHECKING:
    from pathlib import Path

    from shopflow.sources.shop_simulator import DaySummary


def open_lake(settings: Settings) -> Lake:
    return Lake(s3_client(settings), settings.lake_bucket)


def date_range(first: date, last: date) -> Iterator[date]:
    """Every date from `first` to `last`, both included."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _entity(entity: str | Entity) -> Entity:
    return entity if isinstance(entity, Entity) else get_entity(entity)


@dataclass(frozen=True)
class Pipeline:
    """The pipeline's steps on one set of services (the settings) and their lake."""

    settings: Settings
    lake: Lake

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Pipeline:
        """The pipeline on `settings`, or on the settings read from the environment."""
        settings = settings or load_settings()
        return cls(settings, open_lake(settings))

    @contextmanager
    def warehouse(self) -> Iterator[Any]:
        """One warehouse connection for a loop of loads (closed on exit; each load commits its own)."""
        with connect(self.settings.warehouse_dsn) as conn:
            yield conn

    # --- sources --------------------------------------------------------------------------------------
    def catalog(self) -> list[dict]:
        """The product catalog the shop sells, from the FakeStore API."""
        from shopflow.sources.fakestore_client import fetch_products

        return fetch_products(self.settings.fakestore_api_url)

    def simulate(
        self,
        first: date,
        last: date | None = None,
        *,
        catalog: list[dict] | None = None,
        progress: Callable[[date], None] | None = None,
    ) -> list[DaySummary]:
        """Advance the simulated shop and clickstream over [first, last] at the configured scale and seed.

        Days simulated before are skipped. `progress(day)` runs after each day is committed, before the
        next one changes the shop: a caller extracting there sees the shop as of that day's end.
        """
        from shopflow.sources.shop_simulator import simulate_days

        simulation = self.settings.simulation
        return simulate_days(
            self.settings.shop_dsn,
            self.lake.client,
            self.lake.bucket,
            catalog if catalog is not None else self.catalog(),
            first,
            last or first,
            scale=simulation.scale,
            seed=simulation.seed,
            progress=progress,
        )

    # --- extract, gate, load --------------------------------------------------------------------------
    def extract(self, entity: str | Entity, dt: date, *, force: bool = False) -> ExtractResult:
        """Extract one entity for one date into the lake's raw zone (sealed partitions are kept unless forced)."""
        entity = _entity(entity)
        if entity.source == "fakestore":
            from shopflow.extract.products import extract_products

            return extract_products(self.lake, self.settings.fakestore_api_url, dt, force=force)
        if entity.source == "shop":
            from shopflow.extract.shop_tables import extract_shop_table

            return extract_shop_table(self.lake, self.settings.shop_dsn, entity, dt, force=force)
        from shopflow.extract.clickstream import extract_clickstream

        return extract_clickstream(self.lake, dt)

    def gate(self, entity: str | Entity, dt: date, conn: Any = None) -> LoadResult:
        """Validate one entity's partition for one date and record the verdict, without loading it.

        Raises QualityGateError (after quarantining the partition) when it fails.
        """
        return gate_partition(self.lake, conn or self.settings.warehouse_dsn, _entity(entity), dt)

    def load(
        self,
        entity: str | Entity,
        dt: date,
        conn: Any = None,
        *,
        expected_batch_id: str | None = None,
        partition: Partition | None = None,
    ) -> LoadResult:
        """Gate and load one entity's partition for one date (an open warehouse `conn` is reused if given).

        With `expected_batch_id` (from `gate`), a partition that changed since it was gated is refused.
        `partition`: already read from the lake (by a caller reading ahead).
        """
        return load_partition(
            self.lake,
            conn or self.settings.warehouse_dsn,
            _entity(entity),
            dt,
            expected_batch_id=expected_batch_id,
            partition=partition,
        )

    def run_date(
        self,
        dt: date,
        entities: Sequence[str] = LOAD_ORDER,
        on_step: Callable[[str, str], None] | None = None,
    ) -> tuple[list[ExtractResult], list[LoadResult]]:
        """Extract, then validate and load, every entity for `dt`; stops at the first failure.

        Products and orders load before the lines that reference them, so the referential checks see them.
        """
        extracted, loaded = [], []
        for name in entities:
            if on_step:
                on_step("extract", name)
            extracted.append(self.extract(name, dt))
        with self.warehouse() as conn:
            for name in entities:
                if on_step:
                    on_step("load", name)
                loaded.append(self.load(name, dt, conn))
        return extracted, loaded

    def rebuild_from_lake(self, on_partition: Callable[[date, str], None] | None = None) -> int:
        """Empty the raw tables and load every lake partition again, date by date; returns partitions loaded.

        The lake is the system of record: this reproduces the warehouse's raw schema exactly.
        """
        from shopflow.warehouse.raw_schema import RAW_SCHEMA, ensure_raw_schema

        available = {name: set(self.lake.partition_dates(get_entity(name))) for name in LOAD_ORDER}
        dates = sorted(set().union(*available.values()))
        with self.warehouse() as conn:
            ensure_raw_schema(conn)
            with conn.cursor() as cur:
                cur.execute("truncate " + ", ".join(f"{RAW_SCHEMA}.{e.table}" for e in ENTITIES.values()))
            conn.commit()
            loaded = 0
            for dt in dates:
                for name in LOAD_ORDER:
                    if dt in available[name]:
                        self.load(name, dt, conn)
                        loaded += 1
                        if on_partition:
                            on_partition(dt, name)
        return loaded


def build_data_docs_from_ops(warehouse_dsn: str, limit: int) -> Path:
    """Data Docs for the latest `limit` outcomes in ops.validation_results (a plain function: the demo
    runs it in a process of its own, beside dbt)."""
    from shopflow.quality.data_docs import build_data_docs
    from shopflow.warehouse.ops import load_outcomes

    with connect(warehouse_dsn) as conn:
        outcomes = load_outcomes(conn, limit=limit)
    return build_data_docs(outcomes)
