"""The image's install step, rehearsed without Docker: what the Dockerfile's `uv sync` gives the compose commands.

No Docker engine runs here. This rehearses the build stage of docker/Dockerfile: the files it copies
(pyproject.toml, uv.lock, README.md, src/) go into an empty directory, `uv sync --frozen --no-dev
--extra celery` installs the locked environment there, and then every service of docker-compose.yml
that runs the project image has its command started through the image's entrypoint
(docker/entrypoint.py) with that service's environment from `docker-compose config`, asking the
command for its usage (`--help`): so each command exists in the image's environment, parses its
arguments, and the entrypoint accepts the service's variables. docs/deployment.md lists what this
does not cover.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from shopflow.deploy.compose_env import write_env_file
from tests.compose_rehearsal import dockerfile_runtime_env

ROOT = Path(__file__).resolve().parents[1]
ENTRYPOINT = ROOT / "docker" / "entrypoint.py"
# /usr/local/bin names the Dockerfile gives to the repository's scripts.
IMAGE_SCRIPTS = {"airflow-init": ROOT / "docker" / "airflow-init.sh", "shopflow-entrypoint": ENTRYPOINT}

# One install for this module and the compose rehearsal: same xdist worker, one session fixture.
pytestmark = pytest.mark.slow  # on one xdist worker with the compose rehearsal (tests/conftest.py)


@pytest.fixture(scope="module")
def image_env(image_root) -> Path:
    """The environment's bin/ after the build stage's `uv sync` (tests/image_build.py)."""
    return image_root / ".venv" / "bin"


@pytest.fixture(scope="module")
def compose_services(tmp_path_factory) -> dict:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (make system-deps installs it)")
    folder = tmp_path_factory.mktemp("compose")
    shutil.copy(ROOT / "docker-compose.yml", folder / "docker-compose.yml")
    write_env_file(folder / ".env")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    result = subprocess.run(
        [binary, "--profile", "flower", "config"], cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def image_commands(services: dict) -> dict[str, list[str]]:
    return {
        name: [str(part) for part in service["command"]]
        for name, service in services.items()
        if "build" in service and service.get("command")
    }


def test_the_install_step_gives_the_locked_runtime_without_dev_tools(image_env):
    python = image_env / "python"
    probe = (
        "import importlib.util as u, sys; import airflow, celery, redis, great_expectations, dbt.version;"
        "import airflow.providers.celery.executors.celery_executor;"
        "missing=[m for m in ('pytest','ruff','moto') if u.find_spec(m)]; print(airflow.__version__, missing)"
    )
    result = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    # Airflow logs a Celery configuration warning to stdout first: the answer is the last line.
    version, missing = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert version.startswith("3.3.") and missing.strip() == "[]"


def test_every_image_service_command_starts_through_the_entrypoint(image_env, compose_services, tmp_path):
    commands = image_commands(compose_services)
    # Every service built from the project image is checked, none silently skipped.
    assert set(commands) >= {
        "s3-init", "fakestore-api", "airflow-init", "airflow-apiserver", "airflow-scheduler",
        "airflow-dag-processor", "airflow-triggerer", "airflow-worker", "flower", "shop-seed", "metabase-init",
    }  # fmt: skip
    failures = []
    for name, command in sorted(commands.items()):
        environment = {k: str(v) for k, v in (compose_services[name].get("environment") or {}).items()}
        env = {
            **environment,
            "PATH": f"{image_env}:{os.environ['PATH']}",
            # The image's DAG folder on PYTHONPATH (Dockerfile ENV): the DAG processor starts from a module there.
            "PYTHONPATH": dockerfile_runtime_env()["PYTHONPATH"].replace("/opt/shopflow", str(ROOT)),
            "HOME": str(tmp_path),
            "AIRFLOW_HOME": str(tmp_path / name),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / name / "passwords.json"),
        }
        if command[0] in IMAGE_SCRIPTS:
            # The one script that does real work at once: check it is the file the image installs.
            assert IMAGE_SCRIPTS[command[0]].is_file()
            continue
        if command[:2] == ["python", "-c"]:
            argv = [*command[:2], "import ast, sys; ast.parse(sys.argv[1])", command[2]]
        else:
            argv = [*command, "--help"]
        result = subprocess.run(
            [str(image_env / "python"), str(ENTRYPOINT), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if result.returncode != 0:
            failures.append(f"{name}: {' '.join(command)} -> {result.returncode}\n{result.stderr[-800:]}")
    assert not failures, "\n".join(failures)
