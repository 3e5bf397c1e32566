"""GX Data Docs: a static HTML site of the recorded validation results and the suites behind them.

The site is built with the file data context in the top-level `great_expectations/` folder, whose
stores and site all live under `great_expectations/uncommitted/` (gitignored). Each build replaces the
stores' content with the given outcomes, so the site shows exactly what was recorded, not leftovers.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import yaml

from shopflow.config import PROJECT_ROOT

if TYPE_CHECKING:
    from shopflow.quality.outcome import ValidationOutcome

GX_PROJECT_DIR = PROJECT_ROOT / "great_expectations"
SITE_NAME = "local_site"
DEFAULT_DOCS_LIMIT = 500


def _generated_dirs(context_root_dir: Path) -> list[Path]:
    """The store and site directories the project config points at; all must be under uncommitted/."""
    config_path = context_root_dir / "great_expectations.yml"
    if not config_path.is_file():
        raise FileNotFoundError(f"no GX project config at {config_path}")
    config = yaml.safe_load(config_path.read_text())
    dirs = [
        store["store_backend"]["base_directory"]
        for store in (config.get("stores") or {}).values()
        if store.get("store_backend", {}).get("base_directory")
    ]
    dirs += [
        site["store_backend"]["base_directory"]
        for site in (config.get("data_docs_sites") or {}).values()
        if site.get("store_backend", {}).get("base_directory")
    ]
    uncommitted = (context_root_dir / "uncommitted").resolve()
    paths = []
    for entry in dirs:
        path = (context_root_dir / entry).resolve()
        if uncommitted not in (path, *path.parents):
            raise ValueError(f"{config_path}: {entry!r} is outside uncommitted/; generated files must stay gitignored")
        paths.append(path)
    return paths


def _suite_from_results(name: str, results: list[dict[str, Any]]) -> Any:
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    expectations = []
    for res in results:
        config = res.get("expectation_config") or {}
        kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
        expectation_config = ExpectationConfiguration(
            type=config["type"],
            kwargs=kwargs,
            meta=config.get("meta"),
            description=config.get("description"),
        )
        expectations.append(expectation_config.to_domain_obj())
    return gx.ExpectationSuite(name=name, expectations=expectations)


def build_data_docs(
    outcomes: Iterable[ValidationOutcome] | None = None,
    *,
    warehouse_dsn: str | None = None,
    limit: int = DEFAULT_DOCS_LIMIT,
    context_root_dir: Path = GX_PROJECT_DIR,
) -> Path:
    """Render Data Docs for `outcomes`, or for the latest `limit` rows of ops.validation_results.

    Returns the site's index.html (by default great_expectations/uncommitted/data_docs/local_site/).
    Outcomes of unreadable partitions (no GX result) are left out: they have nothing to render.
    """
    if outcomes is None:
        if warehouse_dsn is None:
            raise ValueError("build_data_docs needs outcomes or a warehouse_dsn to read ops.validation_results from")
        import psycopg2

        from shopflow.warehouse.ops import load_outcomes

        with psycopg2.connect(warehouse_dsn) as conn:
            outcomes = load_outcomes(conn, limit=limit)
        conn.close()
    renderable = [o for o in outcomes if o.result.get("results")]

    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    for path in _generated_dirs(context_root_dir):
        shutil.rmtree(path, ignore_errors=True)
    context = gx.get_context(mode="file", context_root_dir=str(context_root_dir))

    schema = ExpectationSuiteValidationResultSchema()
    latest_by_suite: dict[str, ValidationOutcome] = {}
    for outcome in renderable:
        document = {k: v for k, v in outcome.result.items() if k != "shopflow"}
        result = schema.load(document)
        # Store keys become path segments: no '/' (a partition's lake prefix has several) or spaces.
        run_id = RunIdentifier(run_name=f"{outcome.entity}_{outcome.dt.isoformat()}", run_time=outcome.validated_at)
        result.meta["run_id"] = run_id
        result.meta["validation_time"] = run_id.run_time
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=outcome.suite_name),
            run_id=run_id,
            batch_identifier=f"{outcome.entity}-{outcome.dt.isoformat()}",
        )
        context.validation_results_store.set(key, result)
        current = latest_by_suite.get(outcome.suite_name)
        if current is None or outcome.validated_at > current.validated_at:
            latest_by_suite[outcome.suite_name] = outcome
    for name, outcome in latest_by_suite.items():
        context.suites.add(_suite_from_results(name, outcome.result["results"]))

    urls = context.build_data_docs(site_names=[SITE_NAME])
    return Path(unquote(urlparse(urls[SITE_NAME]).path))
