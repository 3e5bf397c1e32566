"""docker/Dockerfile's steps that can run without Docker: the locked install, then the runtime copies.

The `image_root` session fixture (tests/conftest.py) calls these once per session: the install-step
test (tests/test_image_install.py) and the compose rehearsal (tests/test_compose_rehearsal.py) share
one environment, so `uv sync` runs once. Both modules are in the xdist group "image", so under
`pytest -n 2 --dist loadgroup` they run on the same worker too.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What the build stage copies before `uv sync` (the rest of the image comes in the runtime stage).
BUILD_FILES = ("pyproject.toml", "uv.lock", "README.md")
# What the runtime stage copies beside the environment (`COPY dags/ /opt/shopflow/dags/` ...).
RUNTIME_DIRS = ("dags", "metabase", "transform", "great_expectations")


def uv_command() -> list[str]:
    """uv as `make setup` installs it: the `uv` program, or the module of the system Python."""
    if shutil.which("uv"):
        return [shutil.which("uv")]
    for python in (sys.executable, shutil.which("python3")):
        if (
            python
            and subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False).returncode == 0
        ):
            return [python, "-m", "uv"]
    pytest.skip("uv is not installed (make setup installs it)")


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip().rstrip("/") for line in lines if line.strip() and not line.startswith("#")]


def _ignored(relative: str, patterns: list[str]) -> bool:
    # Docker's rules: a pattern names a path from the context's root; `**/` matches at any depth.
    for pattern in patterns:
        if pattern.startswith("**/"):
            if fnmatch.fnmatch(Path(relative).name, pattern.removeprefix("**/")):
                return True
        elif fnmatch.fnmatch(relative, pattern):
            return True
    return False


def copy_context(source: str, dest: Path) -> None:
    """`COPY <source>/ <dest>/` from the build context: the repository minus .dockerignore."""
    patterns = dockerignore_patterns()

    def ignore(directory: str, names: list[str]) -> list[str]:
        base = Path(directory).relative_to(ROOT)
        return [name for name in names if _ignored(str(base / name), patterns)]

    shutil.copytree(ROOT / source, dest, ignore=ignore, symlinks=True)


def install_locked_environment(build: Path) -> Path:
    """The build stage: its files in an empty `build`, then `uv sync --frozen --no-dev --extra celery`.

    Returns the environment's bin/. The project is installed editable, as in the image, so it finds
    dags/, transform/ and metabase/ beside src/ once `copy_runtime_files` has put them there.
    """
    build.mkdir(parents=True, exist_ok=True)
    for name in BUILD_FILES:
        shutil.copy(ROOT / name, build / name)
    copy_context("src", build / "src")
    env = {
        **os.environ,
        "UV_PROJECT_ENVIRONMENT": str(build / ".venv"),
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_LINK_MODE": "copy",
        "UV_COMPILE_BYTECODE": "1",  # as the Dockerfile: components then start without compiling
        "VIRTUAL_ENV": "",
    }
    result = subprocess.run(
        [*uv_command(), "sync", "--frozen", "--no-dev", "--extra", "celery"],
        cwd=build,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return build / ".venv" / "bin"


def copy_runtime_files(build: Path) -> None:
    """The runtime stage's COPY of the project folders next to the environment (idempotent)."""
    for name in RUNTIME_DIRS:
        if not (build / name).exists():
            copy_context(name, build / name)


def data_docs_assets_command(build: Path) -> list[str]:
    """The `data-docs-assets` stage's `npm ci`, into great_expectations/assets/ of `build`."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (the Data Docs assets need it: apt-get install npm)")
    assets = build / "great_expectations" / "assets"
    return [npm, "ci", "--prefix", str(assets), "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
