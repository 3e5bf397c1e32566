"""`airflow dag-processor` with what every parse of a DAG file needs loaded once, before the parses fork.

Airflow's DAG processor forks a process per DAG file parse (every `min_file_process_interval`, and for
each batch of task callbacks: the transform DAG's model tasks that end in the triggerer send one each).
A forked parse inherits the modules and caches of the processor that forked it and rebuilds the rest:
without this, every parse imported Cosmos and discovered every provider's asset URI handlers again (the
first `Asset(...)` of a process does that): in a profile over two transform runs, the discovery alone
was 6.8 of the DAG processor's 26 CPU s, taken from the dbt build the parses run beside. Loaded here:
the handlers, and the libraries the DAG files import.

    python -m _dag_processor [airflow dag-processor options]     # dags/ on PYTHONPATH, as for the triggerer

It lives beside the DAGs, not in the `shopflow` package, because it imports Airflow (the package never does).
"""

from __future__ import annotations

import importlib
import sys

# Libraries the DAG files (dags/) import: importing them here changes nothing a DAG file does, only when.
# Not this project's own modules, nor dags/_common.py: an edit to them shows at the next parse, as in Airflow.
PRELOADED_MODULES = (
    "airflow.sdk",
    "airflow.providers.standard.operators.python",
    "cosmos",
    "cosmos.converter",
    "cosmos.operators.watcher",
)


def preload() -> None:
    """Import the DAG files' libraries and discover the providers' asset URI handlers, in this process."""
    for module in PRELOADED_MODULES:
        importlib.import_module(module)
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    ProvidersManagerTaskRuntime().asset_uri_handlers  # noqa: B018 - the property discovers and caches them


def main() -> None:
    preload()
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", "dag-processor", *sys.argv[1:]]
    airflow_main()


if __name__ == "__main__":
    main()
