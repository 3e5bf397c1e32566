"""No usage telemetry leaves the platform: the detector the tests use, dbt's switch, the image.

The whole-pipeline check (every DAG run under Airflow, its logs and the hosts it tried to reach) is in
tests/test_airflow_e2e.py; the DAG files' own switches and the local launcher's in tests/test_dags.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from shopflow.telemetry import USAGE_TELEMETRY_OFF

ROOT = Path(__file__).resolve().parents[1]
OUTBOUND_GUARD = Path(__file__).parent / "outbound_guard"
DOCKERFILE = ROOT / "docker" / "Dockerfile"


def guarded_environment(log: Path, **extra: str) -> dict[str, str]:
    """An environment whose Python processes record every non-local host they try to reach into `log`."""
    env = {k: v for k, v in os.environ.items() if k not in USAGE_TELEMETRY_OFF}
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OUTBOUND_GUARD), env.get("PYTHONPATH")]))
    env["SHOPFLOW_OUTBOUND_LOG"] = str(log)
    return env


def outbound_attempts(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_the_outbound_guard_records_outside_hosts_only(tmp_path):
    log = tmp_path / "outbound.log"
    probe = (
        "import socket\n"
        "for host in ('127.0.0.1', 'localhost', 'telemetry.invalid'):\n"
        "    try:\n"
        "        socket.getaddrinfo(host, 443)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    subprocess.run([sys.executable, "-c", probe], env=guarded_environment(log), check=True, timeout=60)
    attempts = outbound_attempts(log)
    assert len(attempts) == 1 and attempts[0].endswith("getaddrinfo telemetry.invalid:443"), attempts


def test_dbt_sends_no_usage_stats_even_when_the_environment_asks_for_them(tmp_path):
    # DBT_SEND_ANONYMOUS_USAGE_STATS outranks transform/dbt_project.yml; only the CLI flag that
    # run_dbt passes outranks it. Without that flag dbt resolves fishtownanalytics.sinter-collect.com
    # at the start of any command, `dbt debug --config-dir` (the cheapest: no project parse) included.
    log = tmp_path / "outbound.log"
    env = guarded_environment(log, DBT_SEND_ANONYMOUS_USAGE_STATS="true", SHOPFLOW_STATE_DIR=str(tmp_path))
    code = "from shopflow.transform.runner import run_dbt; run_dbt(['debug', '--config-dir'])"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert outbound_attempts(log) == []


def test_the_image_turns_every_usage_telemetry_switch_off():
    text = DOCKERFILE.read_text()
    # ENV instructions, continuation lines joined: NAME=value pairs set for every container of the image.
    env_lines = re.findall(r"^ENV ((?:.*\\\n)*.*)$", text, flags=re.MULTILINE)
    pairs = dict(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", " ".join(env_lines)))
    assert {name: pairs.get(name) for name in USAGE_TELEMETRY_OFF} == USAGE_TELEMETRY_OFF


def test_the_transform_dag_turns_cosmos_telemetry_off_even_when_cosmos_read_its_settings_first(tmp_path):
    # In a task process Airflow loads its plugins (Cosmos' telemetry listeners) before the DAG file:
    # Cosmos has read `[cosmos] enable_telemetry` from the environment by then.
    probe = (
        "import runpy, sys\n"
        "from cosmos import settings, telemetry\n"
        "assert telemetry.should_emit(), 'the environment asks for telemetry'\n"
        f"sys.path.insert(0, {str(ROOT / 'dags')!r})\n"
        f"runpy.run_path({str(ROOT / 'dags' / 'transform.py')!r}, run_name='dag_file')\n"
        "print('should_emit', telemetry.should_emit())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in USAGE_TELEMETRY_OFF}
    env.update({"AIRFLOW__COSMOS__ENABLE_TELEMETRY": "True", "AIRFLOW_HOME": str(tmp_path)})
    proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "should_emit False"
