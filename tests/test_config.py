"""The settings object: every variable read in one place, grouped, with errors that name the variable."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from shopflow.config import (
    DEFAULT_METABASE_URL,
    AirflowSettings,
    ConfigError,
    MetabaseSettings,
    Settings,
    SimulationSettings,
    variable_name,
)

ROOT = Path(__file__).resolve().parents[1]


def test_groups_read_their_variables_with_defaults():
    settings = Settings.from_env({})
    assert (settings.simulation.scale, settings.simulation.seed, settings.simulation.enabled) == (1.0, 42, False)
    assert settings.airflow.port == 58081 and settings.airflow.start_date == date(2026, 1, 1)
    assert not settings.metabase.configured and settings.metabase.api_url == DEFAULT_METABASE_URL
    given = Settings.from_env(
        {
            "SHOPFLOW_SIMULATE_SOURCES": "True",
            "SHOPFLOW_SIMULATION_SCALE": "0.2",
            "SHOPFLOW_SIMULATION_SEED": "7",
            "SHOPFLOW_START_DATE": "2025-06-01",
            "METABASE_URL": "http://metabase:3000",
            "METABASE_DB_PORT": "6543",
            "SHOPFLOW_PG_PORT": "",  # empty counts as unset, as in a compose .env
        }
    )
    assert (given.simulation.scale, given.simulation.seed, given.simulation.enabled) == (0.2, 7, True)
    assert given.airflow.start_date == date(2025, 6, 1)
    assert given.metabase.configured and given.metabase.db_port == 6543 and given.pg_port == 55432


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SHOPFLOW_START_DATE", "yesterday"),
        ("SHOPFLOW_SIMULATE_SOURCES", "sometimes"),
        ("SHOPFLOW_SIMULATION_SCALE", "-1"),
        ("SHOPFLOW_SIMULATION_SCALE", "nan"),
        ("SHOPFLOW_SIMULATION_SEED", "x"),
        ("SHOPFLOW_AIRFLOW_PORT", "http"),
        ("SHOPFLOW_S3_PORT", "70000"),
        ("METABASE_READY_TIMEOUT", "soon"),
    ],
)
def test_a_malformed_variable_is_named_with_its_value(variable, value):
    with pytest.raises(ConfigError, match=f"^{variable}='{value}': "):
        Settings.from_env({variable: value})


def test_variable_names_come_from_the_fields():
    assert variable_name(AirflowSettings, "port") == "SHOPFLOW_AIRFLOW_PORT"
    assert variable_name(SimulationSettings, "simulate_sources") == "SHOPFLOW_SIMULATE_SOURCES"
    assert variable_name(MetabaseSettings, "db_password") == "METABASE_DB_PASSWORD"


def test_replace_gives_a_changed_copy_and_settings_are_frozen(tmp_path):
    settings = Settings.from_env({})
    copy = settings.replace(lake_bucket="other", state_dir=tmp_path)
    assert (copy.lake_bucket, copy.state_dir, settings.lake_bucket) == ("other", tmp_path, "shopflow-lake")
    with pytest.raises(ValueError, match="frozen"):
        settings.lake_bucket = "x"  # type: ignore[misc]


def test_a_command_line_scale_or_seed_overrides_the_environment_and_is_validated():
    settings = Settings.from_env({"SHOPFLOW_SIMULATION_SCALE": "2", "SHOPFLOW_SIMULATION_SEED": "9"})
    assert settings.with_simulation().simulation == settings.simulation
    assert settings.with_simulation(seed=3).simulation.model_dump(include={"scale", "seed"}) == {"scale": 2, "seed": 3}
    assert settings.with_simulation(scale=0.5).simulation.seed == 9
    with pytest.raises(ConfigError, match=r"scale=0: Input should be greater than 0"):
        settings.with_simulation(scale=0)


def test_the_cli_refuses_a_bad_scale_before_touching_a_service(monkeypatch):
    from typer.testing import CliRunner

    from shopflow.cli import app

    # An unreachable shop: the command must fail on its option, not on the connection.
    monkeypatch.setenv("SHOPFLOW_PG_PORT", "1")
    result = CliRunner().invoke(app, ["simulate", "--date", "2025-01-01", "--scale", "-1"])
    assert result.exit_code == 1
    assert "ConfigError: scale=-1.0: Input should be greater than 0" in result.output
    assert "Traceback" not in result.output


def test_credentials_are_escaped_in_urls():
    settings = Settings.from_env({"SHOPFLOW_PG_USER": "a@b", "SHOPFLOW_PG_PASSWORD": "p/w:@#"})
    escaped = "postgresql://a%40b:p%2Fw%3A%40%23@127.0.0.1:55432/warehouse"  # pragma: allowlist secret
    assert settings.warehouse_dsn == escaped


def test_only_the_settings_module_reads_the_environment():
    """The package's modules receive settings; os.environ appears in config.py alone."""
    found = subprocess.run(
        ["grep", "-rln", "-e", "os.environ", "-e", "os.getenv", str(ROOT / "src" / "shopflow")],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert [Path(p).relative_to(ROOT).as_posix() for p in found] == ["src/shopflow/config.py"]


def test_settings_import_stays_light():
    """DAG files read settings at parse time: importing config must not pull in the heavy libraries."""
    code = "import sys, shopflow.config; print(' '.join(m for m in ('pandas', 'great_expectations', 'dbt', 'boto3') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == ""
