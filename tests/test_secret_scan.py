"""`make lint` fails on a secret that .secrets.baseline does not list (scripts/check_secrets.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("check_secrets", ROOT / "scripts" / "check_secrets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_new_secret_is_reported_with_file_line_and_type(tmp_path):
    leak = tmp_path / "settings.py"
    # AWS's documented example key, assembled so that this file holds no secret-looking literal.
    fake_key = "wJalrXUtnFEMI/" + "K7MDENG/" + "bPxRfiCYzz" + "EXAMPLEKEY"
    leak.write_text(f'import os\n\naws_secret_access_key = "{fake_key}"\n')
    findings = _checker().new_secrets([str(leak)])
    assert f"{leak}:3: Secret Keyword" in findings


def test_known_fake_and_embedded_only_secrets_pass_even_when_their_lines_move():
    # config.py's defaults serve only the embedded, loopback-only services; the tests' are fakes.
    checker = _checker()
    assert checker.new_secrets(["src/shopflow/config.py", "tests/test_infra.py", ".env.example"]) == []


def test_lint_runs_the_scanner():
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "scripts/check_secrets.py" in lint
