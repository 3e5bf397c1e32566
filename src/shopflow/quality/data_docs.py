"""GX Data Docs: a static HTML site of the recorded validation results and the suites behind them.

The site is built with the file data context in the top-level `great_expectations/` folder, whose
stores and site all live under `great_expectations/uncommitted/` (gitignored). Each build replaces the
stores' content with the given outcomes, so the site shows exactly what was recorded, not leftovers.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import yaml

from shopflow.config import PROJECT_ROOT
from shopflow.errors import ShopflowError

if TYPE_CHECKING:
    from shopflow.quality.outcome import ValidationOutcome

GX_PROJECT_DIR = PROJECT_ROOT / "great_expectations"
SITE_NAME = "local_site"
# `make data-docs-assets` installs the npm packages of great_expectations/assets/package.json here.
ASSETS_DIR = GX_PROJECT_DIR / "assets" / "node_modules"
VENDOR_DIR = "static/vendor"  # inside the site

# Every CDN address GX 1.24's page templates load, and the file of the pinned npm package that serves
# it. Two addresses name bootstrap-table 1.19.0 and popper.js 1.12.9; the site gets 1.19.1 (the
# version GX's other bootstrap-table links name) and 1.14.7 (the popper release bootstrap 4.3.1 requires).
CDN_FILES = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/dist/js/bootstrap.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "bootstrap-table/dist/bootstrap-table.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "bootstrap-table/dist/bootstrap-table.min.js",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/dist/umd/popper.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "@fortawesome/fontawesome-free/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
}
# The header's logo is fetched from GX's S3 bucket; the package ships the same logo with the site.
_LOGO_URL = re.compile(r"https://great-expectations-web-assets\.s3[^\"']*")
_LOGO_FILE = "static/images/logo-long.png"
# Font Awesome's stylesheet loads its fonts from ../webfonts/ next to its css/ folder.
EXTRA_DIRS = ("@fortawesome/fontawesome-free/webfonts",)


class DataDocsAssetsMissing(ShopflowError, FileNotFoundError):
    """The npm packages the offline Data Docs need are not installed (`make data-docs-assets`)."""


def _check_assets(assets_dir: Path) -> None:
    missing = [rel for rel in {*CDN_FILES.values(), *EXTRA_DIRS} if not (assets_dir / rel).exists()]
    if missing:
        raise DataDocsAssetsMissing(
            f"{len(missing)} Data Docs asset(s) missing under {assets_dir} (e.g. {sorted(missing)[0]}); "
            "run `make data-docs-assets` (npm ci of great_expectations/assets) and build the docs again"
        )


def localize_assets(site_dir: Path, assets_dir: Path = ASSETS_DIR) -> int:
    """Copy the pages' scripts, styles and fonts into the site and point every page at the copies.

    Returns how many links were rewritten. Raises DataDocsAssetsMissing when the packages are absent.
    """
    _check_assets(assets_dir)
    vendor = site_dir / VENDOR_DIR
    for rel in {*CDN_FILES.values(), *EXTRA_DIRS}:
        source, target = assets_dir / rel, vendor / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
    rewritten = 0
    for page in site_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        prefix = os.path.relpath(vendor, page.parent)
        for url, rel in CDN_FILES.items():
            # An address is always followed by a quote in the templates: never rewrite a longer one.
            for quote in ('"', "'"):
                needle = url + quote
                if needle in text:
                    rewritten += text.count(needle)
                    text = text.replace(needle, f"{prefix}/{rel}{quote}")
        logo = os.path.relpath(site_dir / _LOGO_FILE, page.parent)
        text, count = _LOGO_URL.subn(logo, text)
        rewritten += count
        page.write_text(text, encoding="utf-8")
    return rewritten


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
    outcomes: Iterable[ValidationOutcome],
    *,
    context_root_dir: Path = GX_PROJECT_DIR,
    assets_dir: Path = ASSETS_DIR,
) -> Path:
    """Render Data Docs for `outcomes` (`pipeline.build_data_docs_from_ops` reads them from the warehouse).

    Returns the site's index.html (by default great_expectations/uncommitted/data_docs/local_site/).
    Outcomes of unreadable partitions (no GX result) are left out: they have nothing to render. The
    pages' scripts and styles are copied into the site from the npm packages (`localize_assets`), so
    the site works opened from disk without a network.
    """
    renderable = [o for o in outcomes if o.result.get("results")]
    _check_assets(assets_dir)  # before the build: a site that needs CDNs is not worth writing

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
    index = Path(unquote(urlparse(urls[SITE_NAME]).path))
    localize_assets(index.parent, assets_dir)
    return index
