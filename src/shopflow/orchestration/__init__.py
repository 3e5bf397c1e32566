"""What the Airflow DAGs in `dags/` call: task bodies, source readiness checks, the local Airflow launcher.

Nothing here imports Airflow, so every function runs (and is tested) without a scheduler. The DAG
files translate Airflow's context (the run's data interval) into plain dates and call these.
"""
