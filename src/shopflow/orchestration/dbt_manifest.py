"""The dbt manifest the `transform` DAG is rendered from (Cosmos `LoadMode.DBT_MANIFEST`).

Parsing the DAG then reads one JSON file and runs no dbt command. The manifest must be rebuilt
whenever the dbt project changes: `shopflow airflow up` does it at start, `shopflow airflow manifest`
on demand, and an image build should do it once (`dbt parse` needs no database connection).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from shopflow.config import PROJECT_ROOT, Settings

TRANSFORM_DIR = PROJECT_ROOT / "transform"
MANIFEST_PATH = TRANSFORM_DIR / "target" / "manifest.json"


def build_manifest(settings: Settings, path: Path = MANIFEST_PATH) -> tuple[Path, float]:
    """`dbt parse` the project and write its manifest to `path` atomically; returns (path, seconds)."""
    from shopflow.transform.runner import run_dbt

    started = time.monotonic()
    result = run_dbt(["parse", "--quiet"], settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # A DAG parse reading the file mid-write would see half a JSON document: write beside it, then rename.
    result.result.writable_manifest().write(str(partial))
    os.replace(partial, path)
    return path, time.monotonic() - started
