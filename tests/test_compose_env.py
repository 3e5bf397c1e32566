"""`make compose-env`: a complete .env with fresh secrets, never overwritten, that compose accepts."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet

from shopflow.deploy.compose_env import compose_environment, main, write_env_file

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
REQUIRED = re.compile(r"\$\{([A-Z][A-Z0-9_]*):\?")


def read_env(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_env_has_every_required_compose_variable_with_fresh_values(tmp_path):
    path = tmp_path / ".env"
    assert write_env_file(path, today=date(2026, 11, 30))
    values = read_env(path)
    required = set(REQUIRED.findall(COMPOSE_FILE.read_text()))
    assert required <= set(values), required - set(values)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(values["AIRFLOW_FERNET_KEY"])  # a malformed key raises
    assert re.search(r"\d", values["METABASE_ADMIN_PASSWORD"]) and len(values["METABASE_ADMIN_PASSWORD"]) >= 6
    assert all("$" not in v and " " not in v for v in values.values())
    assert (values["SHOPFLOW_START_DATE"], values["SHOPFLOW_SEED_END"]) == ("2026-11-23", "2026-11-22")
    secrets_ = [v for k, v in values.items() if re.search("PASSWORD|SECRET|KEY|AUTH", k)]
    assert len(set(secrets_)) == len(secrets_), "two secrets share a value"
    assert compose_environment(date(2026, 11, 30))["POSTGRES_PASSWORD"] != values["POSTGRES_PASSWORD"]


def test_an_existing_env_is_never_overwritten(tmp_path, capsys):
    path = tmp_path / ".env"
    path.write_text("POSTGRES_PASSWORD=mine\n")
    assert not write_env_file(path)
    assert main([str(path)]) == 0
    assert path.read_text() == "POSTGRES_PASSWORD=mine\n"
    assert "left unchanged" in capsys.readouterr().out


def test_make_compose_env_then_docker_compose_config_is_valid(tmp_path):
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (make system-deps installs it)")
    # The Makefile's recipe, run in a copy of the compose file's folder (it writes ./.env).
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(["python3", "-m", "shopflow.deploy.compose_env", ".env"], cwd=tmp_path, env=env, check=True)
    result = subprocess.run(
        [binary, "-f", "docker-compose.yml", "config"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    values = read_env(tmp_path / ".env")
    assert services["shop-seed"]["command"][:4] == ["shopflow", "demo", "--end", values["SHOPFLOW_SEED_END"]]
    assert services["metabase-init"]["command"] == ["shopflow", "metabase", "provision"]
    assert services["metabase-init"]["environment"]["METABASE_PUBLIC_URL"] == "http://127.0.0.1:13000"
    scheduler = services["airflow-scheduler"]
    assert scheduler["environment"]["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "false"
    assert scheduler["environment"]["SHOPFLOW_START_DATE"] == values["SHOPFLOW_START_DATE"]
    assert scheduler["depends_on"]["shop-seed"]["condition"] == "service_completed_successfully"
