"""The dbt runner (env derivation, isolation, errors) and the project's parsed structure."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from shopflow.config import Settings, load_settings
from shopflow.mart_rules import DBT_VARS
from shopflow.transform import TRANSFORM_DIR, TransformError, dbt_env, run_dbt


def _settings(tmp_path: Path, dsn: str = "postgresql://shopflow:pw@127.0.0.1:55432/warehouse") -> Settings:
    return load_settings().replace(warehouse_dsn_external=dsn, state_dir=tmp_path)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """The parsed project (dbt parse needs no database)."""
    return run_dbt(["parse", "--quiet"], _settings(tmp_path_factory.mktemp("dbt-parse"))).result


def test_dbt_env_decodes_the_dsn(tmp_path: Path) -> None:
    env = dbt_env(_settings(tmp_path, "postgresql://wh%40user:p%3Ass%2Fw@db.example:6543/ware%20house"))
    assert env == {
        "DBT_PG_HOST": "db.example",
        "DBT_PG_PORT": "6543",
        "DBT_PG_USER": "wh@user",
        "DBT_PG_PASSWORD": "p:ss/w",
        "DBT_PG_DBNAME": "ware house",
        "DBT_PG_SCHEMA": "analytics",
    }
    assert dbt_env(_settings(tmp_path, "postgres://u@h/db"))["DBT_PG_PORT"] == "5432"


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("mysql://u:p@h:3306/db", "postgresql:// URL"),
        ("postgresql://u:p@h:5432/", "lacks database"),
        ("postgresql://h:5432/db", "lacks user"),
        ("postgresql://u:p@h:99999/db", "invalid port"),
    ],
)
def test_dbt_env_rejects_bad_dsns(tmp_path: Path, dsn: str, message: str) -> None:
    with pytest.raises(TransformError, match=message):
        dbt_env(_settings(tmp_path, dsn))


def test_profiles_read_every_value_from_the_environment() -> None:
    profile = yaml.safe_load((TRANSFORM_DIR / "profiles.yml").read_text())
    output = profile["shopflow"]["outputs"][profile["shopflow"]["target"]]
    from_env = {key for key, value in output.items() if "env_var('DBT_PG_" in str(value)}
    assert from_env == {"host", "port", "user", "password", "dbname", "schema"}
    assert output["threads"] == 2


def test_run_dbt_isolates_environment_and_artifacts(tmp_path: Path, manifest) -> None:
    os.environ["DBT_PG_HOST"] = "left-alone.example"
    os.environ.pop("DBT_PG_DBNAME", None)
    try:
        result = run_dbt(["parse", "--quiet"], _settings(tmp_path))
        assert os.environ["DBT_PG_HOST"] == "left-alone.example"
        assert "DBT_PG_DBNAME" not in os.environ
    finally:
        os.environ.pop("DBT_PG_HOST", None)
    assert result.success
    assert (tmp_path / "dbt" / "target" / "manifest.json").exists()
    assert (tmp_path / "dbt" / "logs" / "dbt.log").exists()


def test_run_dbt_names_what_failed(tmp_path: Path) -> None:
    with pytest.raises(TransformError, match=r"(?s)dbt run-operation no_such_macro failed.*'no_such_macro'"):
        run_dbt(["run-operation", "no_such_macro"], _settings(tmp_path))
    with pytest.raises(TransformError, match="needs a dbt command"):
        run_dbt([], _settings(tmp_path))


def test_failed_build_lists_failed_and_skipped_nodes(isolated_settings) -> None:
    """A warehouse without the raw schema: the staging view fails, its tests are skipped."""
    settings = isolated_settings("dbt_fail")
    with pytest.raises(TransformError) as caught:
        run_dbt(["build", "--select", "stg_shop__orders"], settings)
    message = str(caught.value)
    assert "model.shopflow.stg_shop__orders [error]" in message
    assert 'relation "raw.shop_orders" does not exist' in message
    assert re.search(r"\d+ node\(s\) skipped downstream", message)
    assert "\x1b[" not in message


def test_models_land_in_the_layer_schemas(manifest) -> None:
    schemas = {node.name: node.schema for node in manifest.nodes.values() if node.resource_type.value == "model"}
    layers = {"stg_": "staging", "int_": "intermediate", "dim_": "marts", "fact_": "marts", "mart_": "marts"}
    for name, schema in schemas.items():
        prefix = next(p for p in layers if name.startswith(p))
        assert schema == layers[prefix], name


def test_marts_have_enforced_documented_contracts(manifest) -> None:
    """dbt owns the marts' quality: every mart declares its columns and types, enforced at build."""
    marts = [n for n in manifest.nodes.values() if n.resource_type.value == "model" and n.schema == "marts"]
    assert len(marts) > 10
    for node in marts:
        table = node.name
        assert node.config.contract.enforced, table
        assert node.columns and all(c.data_type for c in node.columns.values()), f"{table} has untyped columns"
        assert all(c.description for c in node.columns.values()), f"{table} has undocumented columns"
        assert "analyze" in " ".join(hook.sql for hook in node.config.post_hook), table


def test_python_thresholds_mirror_the_dbt_vars() -> None:
    """The quality suites and the insights state the marts' thresholds; dbt builds with its vars."""
    project = yaml.safe_load((TRANSFORM_DIR / "dbt_project.yml").read_text())
    assert {name: project["vars"][name] for name in DBT_VARS} == DBT_VARS


def test_incremental_marts_stamp_the_rows_they_write(manifest) -> None:
    models = {n.name: n for n in manifest.nodes.values() if n.resource_type.value == "model"}
    incremental = {name for name, node in models.items() if node.config.materialized == "incremental"}
    assert incremental == {"fact_orders", "fact_order_totals", "mart_daily_product_sales", "mart_daily_category_sales"}
    for name in incremental - {"fact_orders"}:
        assert "processed_at" in models[name].columns, name


def test_every_model_has_a_primary_key_test(manifest) -> None:
    tested: dict[str, set[str]] = {}
    for node in manifest.nodes.values():
        if node.resource_type.value != "test" or not getattr(node, "attached_node", None):
            continue
        kind = node.test_metadata.name if node.test_metadata else ""
        target = node.attached_node.split(".")[-1]
        tested.setdefault(target, set()).add(kind)
    models = [n.name for n in manifest.nodes.values() if n.resource_type.value == "model"]
    for name in models:
        kinds = tested.get(name, set())
        assert "unique_combination_of_columns" in kinds or {"unique", "not_null"} <= kinds, name
    unit_tested = {t.model for t in manifest.unit_tests.values()}
    assert {
        "int_customers_versioned",
        "int_order_lines_enriched",
        "fact_orders",
        "mart_customer_lifetime_value",
        "mart_order_frequency",
        "mart_monthly_revenue",
        "mart_product_performance",
        "fact_order_totals",
        "mart_daily_product_sales",
        "mart_daily_category_sales",
    } <= unit_tested


def test_data_dictionary_is_generated_from_the_yaml(manifest) -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "gen_data_dictionary.py"
    checked = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    text = (script.parents[1] / "docs" / "data-dictionary.md").read_text()
    marts = [n for n in manifest.nodes.values() if n.resource_type.value == "model" and n.schema == "marts"]
    for node in marts:
        assert f"## {node.name}" in text
        for column in node.columns:
            assert f"| `{column}` |" in text, f"{node.name}.{column} missing from the data dictionary"
