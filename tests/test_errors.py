"""One error base: every exception the package defines derives from ShopflowError, and the CLI prints it cleanly."""

from __future__ import annotations

import ast
from pathlib import Path

from typer.testing import CliRunner

from shopflow.cli import app

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "shopflow"
# Control flow that never leaves its module: the Airflow supervisor's and the demo's stop signals, and
# the FakeStore client's "worth another attempt", which its retry turns into a SourceError.
PRIVATE = {"_Stop", "_Transient"}


def _exception_classes() -> dict[str, tuple[str, list[str]]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b) for b in node.bases]
                if any(b.endswith(("Error", "Exception", "Missing", "Unreachable")) for b in bases):
                    found[node.name] = (str(path.relative_to(PACKAGE)), bases)
    return found


def test_every_exception_class_derives_from_the_one_base():
    classes = _exception_classes()
    assert len(classes) > 15
    bases_of = {name: bases for name, (_, bases) in classes.items()}

    def rooted(name: str) -> bool:
        return "ShopflowError" in bases_of[name] or any(b in bases_of and rooted(b) for b in bases_of[name])

    stray = {
        f"{where}:{name}"
        for name, (where, _) in classes.items()
        if name not in PRIVATE | {"ShopflowError"} and not rooted(name)
    }
    assert stray == set()


def test_the_cli_prints_a_shopflow_error_as_one_line(monkeypatch):
    monkeypatch.setenv("SHOPFLOW_PG_PORT", "fifty")
    result = CliRunner().invoke(app, ["services", "status"])
    assert result.exit_code == 1
    assert "ConfigError: SHOPFLOW_PG_PORT='fifty'" in result.output and "Traceback" not in result.output


def test_the_cli_names_an_unreachable_postgresql_in_one_line(monkeypatch):
    # Nothing listens on port 1: the Data Docs command cannot read ops.validation_results.
    monkeypatch.setenv("SHOPFLOW_PG_PORT", "1")
    result = CliRunner().invoke(app, ["quality", "docs"])
    assert result.exit_code == 1
    assert "error: cannot reach PostgreSQL:" in result.output and "port 1 failed" in result.output
    assert "Traceback" not in result.output
