"""The dbt manifest the `transform` DAG is rendered from (Cosmos `LoadMode.DBT_MANIFEST`).

Parsing the DAG then reads one JSON file and runs no dbt command. The manifest must be rebuilt
whenever the dbt project changes: `shopflow airflow up` does it at start, `shopflow airflow manifest`
on demand, and an image build should do it once (`dbt parse` needs no database connection).
"""

from __future__ import annotations

import json
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


def tests_by_model(path: Path = MANIFEST_PATH) -> dict[str, list[str]]:
    """Each model's data tests (unique ids), a test across models counted for the model it is attached to.

    dbt attaches a generic test to the model whose YAML declares it (`attached_node`): a relationships
    test on fact_orders.customer_key belongs to fact_orders, although it also reads dim_customers.
    """
    nodes = json.loads(path.read_text())["nodes"]
    tests: dict[str, list[str]] = {}
    for unique_id, node in nodes.items():
        if node["resource_type"] != "test":
            continue
        parents = [p for p in node["depends_on"]["nodes"] if p.startswith("model.")]
        attached = node.get("attached_node")
        for model in [attached] if attached in parents else parents:
            tests.setdefault(model, []).append(unique_id)
    return tests
