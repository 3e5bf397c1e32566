"""The dbt star schema: run the project in `transform/` against the warehouse."""

from shopflow.transform.runner import TRANSFORM_DIR, TransformError, build, dbt_env, run_dbt

__all__ = ["TRANSFORM_DIR", "TransformError", "build", "dbt_env", "run_dbt"]
