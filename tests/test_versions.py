"""A silent resolver downgrade must fail CI: assert the major versions the platform is built on."""

from importlib.metadata import version


def test_great_expectations_is_1x():
    import great_expectations

    assert great_expectations.__version__.startswith("1."), great_expectations.__version__


def test_dbt_is_1_11():
    assert version("dbt-core").startswith("1.11."), version("dbt-core")
    assert version("dbt-postgres").startswith("1.11."), version("dbt-postgres")


def test_airflow_is_3():
    assert version("apache-airflow").startswith("3."), version("apache-airflow")
    assert version("astronomer-cosmos").startswith("1."), version("astronomer-cosmos")
