"""Open every rendered dashboard page in headless Chromium from file://: no JS errors, all charts drawn.

Errors are caught by the page itself (a window.onerror hook writes them into #js-errors) and read
back with --dump-dom, so no DevTools client is needed. Screenshots go to
<state dir>/output/screenshots (.local/output/screenshots by default).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shopflow.config import load_settings
from shopflow.dashboards.definitions import load_dashboards
from shopflow.dashboards.html import render_dashboards

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=15000",  # let Plotly's promises settle before the DOM is dumped
]


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed: apt-get install -y chromium (CI installs it)")


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def site(built_warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dashboards-site")
    render_dashboards(built_warehouse.warehouse_dsn, out)
    return out


PAGES = ["index", *(d.slug for d in load_dashboards())]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_js_errors(site, page, tmp_path):
    url = (site / f"{page}.html").as_uri()
    dom = run_chromium(["--dump-dom", url], tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    errors = re.search(r'<pre id="js-errors"[^>]*>(.*?)</pre>', dom.stdout, re.S)
    assert errors is not None, "the page did not load (no #js-errors element in the DOM)"
    assert errors.group(1).strip() == "", f"JavaScript errors on {page}: {errors.group(1)}"
    body = re.search(r"<body([^>]*)>", dom.stdout).group(1)
    assert 'data-js-errors="0"' in body
    if page != "index":
        expected = re.search(r'data-charts-expected="(\d+)"', body)
        rendered = re.search(r'data-charts-rendered="(\d+)"', body)
        assert expected and rendered, body
        assert rendered.group(1) == expected.group(1), f"{page}: {rendered.group(1)} of {expected.group(1)} charts"
        assert int(expected.group(1)) > 0
        assert dom.stdout.count('class="main-svg"') >= int(expected.group(1))  # Plotly drew SVG

    shots = load_settings().output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"{page}.png"
    taken = run_chromium(["--window-size=1400,1300", f"--screenshot={shot}", url], tmp_path / "profile2")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few KB


# --- GX Data Docs, opened from disk with every host unresolvable (no network) -----------------------
OFFLINE = ["--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def data_docs(demo_run) -> Path:
    return demo_run[1].data_docs_index


def test_data_docs_load_no_script_or_style_from_the_network(data_docs):
    pages = list(data_docs.parent.rglob("*.html"))
    assert len(pages) > 2
    for page in pages:
        html = page.read_text()
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert remote == [], f"{page.name} still loads {remote[:3]}"
        assert "great-expectations-web-assets" not in html


def test_data_docs_index_lists_the_validations_offline(data_docs, demo_run, tmp_path):
    dom = run_chromium([*OFFLINE, "--dump-dom", data_docs.as_uri()], tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    # bootstrap-table (a script) turns the index's tables into these: without the scripts the page is blank.
    assert 'class="bootstrap-table bootstrap4"' in dom.stdout
    rows = re.findall(r'<tr class="clickable-row" data-href="(validations/[^"]+)"', dom.stdout)
    assert len(rows) >= 5, "the index lists no validation results"
    # bootstrap-table pages the list (10 rows a page) and counts them all
    shown = re.search(r"Showing 1 to \d+ of (\d+) rows", dom.stdout)
    assert shown and int(shown.group(1)) >= len(rows)
    listed = data_docs.read_text()
    assert "validations/raw/clickstream/events/" in listed and "validations/raw/shop/orders/" in listed

    first = data_docs.parent / rows[0]
    page = run_chromium([*OFFLINE, "--dump-dom", first.as_uri()], tmp_path / "profile2")
    assert page.returncode == 0, page.stderr[-2000:]
    assert "Expectation" in page.stdout and "bootstrap-table" in page.stdout

    shots = load_settings().output_dir / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "data-docs-index.png"
    taken = run_chromium(
        [*OFFLINE, "--window-size=1400,1000", f"--screenshot={shot}", data_docs.as_uri()], tmp_path / "p3"
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.stat().st_size > 20_000
