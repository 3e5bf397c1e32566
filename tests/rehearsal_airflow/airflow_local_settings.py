"""Airflow cluster policy and hostname of the compose rehearsal (tests/test_compose_rehearsal.py) only.

The rehearsal puts this folder on PYTHONPATH of every Airflow component it starts; Airflow imports
`airflow_local_settings` from there. Nothing in the image or in docker-compose.yml uses it.

- `task_policy` shortens waits that are minutes in production, so one day through Celery fits in a
  CI test: sensors poke every few seconds instead of every minute, and a failed try is retried after
  a few seconds instead of one minute with exponential backoff. Retry counts are unchanged.
- `container_hostname` stands in for the container's host name: every component of the rehearsal
  runs on one machine, and the task instances must still say which worker ran them.
"""

from __future__ import annotations

import os
from datetime import timedelta

SENSOR_POKE_SECONDS = 3
RETRY_DELAY_SECONDS = 2


def task_policy(task) -> None:
    if hasattr(task, "poke_interval"):
        task.poke_interval = SENSOR_POKE_SECONDS
    task.retry_delay = timedelta(seconds=RETRY_DELAY_SECONDS)
    task.retry_exponential_backoff = 0


def container_hostname() -> str:
    return os.environ["REHEARSAL_HOSTNAME"]
