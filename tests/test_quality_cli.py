"""`shopflow quality` sub-app: suite counts and checking a partition file (no services needed)."""

from __future__ import annotations

from datetime import date

from typer.testing import CliRunner

from shopflow.cli_commands.quality import app
from shopflow.contracts import ORDERS
from tests.quality_samples import partition_csv, sample_rows

runner = CliRunner()


def test_suites_lists_every_suite_with_a_total():
    result = runner.invoke(app, ["suites"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("raw.clickstream.events") for line in lines)
    assert not any(line.startswith("marts.") for line in lines)  # dbt's tests own the marts
    assert int(lines[-1].split()[-1]) >= 130


def test_check_reports_a_bad_partition_and_exits_1(tmp_path):
    rows = sample_rows(ORDERS, date(2026, 1, 3), 10)
    good = tmp_path / "good.csv.gz"
    good.write_bytes(partition_csv(ORDERS, rows))
    result = runner.invoke(app, ["check", "shop.orders", "2026-01-03", str(good), "--rows", "10"])
    assert result.exit_code == 0, result.output
    assert "expectations passed" in result.output

    rows[2]["status"] = "lost"
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(partition_csv(ORDERS, rows))
    result = runner.invoke(app, ["check", "shop.orders", "2026-01-03", str(bad), "--rows", "10"])
    assert result.exit_code == 1
    assert "expect_column_values_to_be_in_set on status" in result.output
    assert "line=4, order_id=3, status='lost'" in result.output


def test_check_names_an_unknown_entity():
    result = runner.invoke(app, ["check", "shop.nope", "2026-01-03", __file__, "--rows", "1"])
    assert result.exit_code == 2  # a usage error, as for `shopflow extract --entity shop.nope`
    assert "unknown entity 'shop.nope'" in result.output
