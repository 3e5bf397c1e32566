"""The one GX data context of a process, built on first use and reused (never at import time).

Partitions are validated in memory through a pandas data source (one dataframe asset per entity).
Building the context and its assets costs far more than validating a partition, so both are cached.
"""

from __future__ import annotations

import threading
from typing import Any

_LOCK = threading.RLock()
_STATE: dict[str, Any] = {}

PANDAS_DATASOURCE = "raw_partitions"


def gx_lock() -> threading.RLock:
    """Serialises use of the shared context: GX contexts are not documented as thread-safe."""
    return _LOCK


def gx_context() -> Any:
    """The process's ephemeral GX context (in-memory stores, no analytics, no progress bars)."""
    with _LOCK:
        context = _STATE.get("context")
        if context is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig,
                InMemoryStoreBackendDefaults,
                ProgressBarsConfig,
            )

            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            )
            context = gx.get_context(mode="ephemeral", project_config=config)
            _STATE["context"] = context
            _STATE["datasources"] = {}
            _STATE["frames"] = {}
        return context


def partition_batch_definition(asset_name: str) -> Any:
    """Whole-dataframe batch definition of the pandas asset `asset_name` (one asset per entity)."""
    with _LOCK:
        context = gx_context()
        cache: dict[str, Any] = _STATE["frames"]
        if asset_name not in cache:
            datasources: dict[str, Any] = _STATE["datasources"]
            if PANDAS_DATASOURCE not in datasources:
                datasources[PANDAS_DATASOURCE] = context.data_sources.add_pandas(PANDAS_DATASOURCE)
            asset = datasources[PANDAS_DATASOURCE].add_dataframe_asset(asset_name)
            cache[asset_name] = asset.add_batch_definition_whole_dataframe("partition")
        return cache[asset_name]
