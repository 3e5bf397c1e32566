"""No usage telemetry leaves the platform: the switches of every component that would send some.

What phones home by default, and the switch that stops it:
- astronomer-cosmos: a Scarf pixel (astronomer.gateway.scarf.sh) after every Cosmos task and DAG run,
  unless `[cosmos] enable_telemetry` is False or DO_NOT_TRACK / SCARF_NO_ANALYTICS is set;
- dbt: anonymous usage events to fishtownanalytics.sinter-collect.com (Snowplow), unless
  `send_anonymous_usage_stats` is false (transform/dbt_project.yml sets it; the flag and
  DBT_SEND_ANONYMOUS_USAGE_STATS override the project) or DO_NOT_TRACK is set;
- Great Expectations 1.x: `analytics_enabled` in the context config, else GX_ANALYTICS_ENABLED
  (the contexts in shopflow.quality set it to false);
- Airflow 3.3 sends nothing (its Scarf usage collection was removed before 3.0); the variable of the
  old `[usage_data_collection]` section is set anyway, so an image built on another Airflow stays quiet;
- SeaweedFS: `-master.telemetry=false` on its command line (shopflow.services.s3, docker-compose.yml);
- Metabase: MB_ANON_TRACKING_ENABLED / MB_CHECK_FOR_UPDATES (docker-compose.yml).

The variables below are set for every process the platform starts (the local Airflow launcher, the
container image, the compose stack) and, for the Python components, by the code paths themselves
(`disable_usage_telemetry` in the DAG files, `--no-send-anonymous-usage-stats` on every dbt call), so
they hold whatever the environment says.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from shopflow.config import export_to_process

USAGE_TELEMETRY_OFF: dict[str, str] = {
    # The cross-tool "do not track" convention, honoured by dbt and Cosmos.
    "DO_NOT_TRACK": "1",
    "SCARF_NO_ANALYTICS": "true",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
}

# dbt's global flag; it takes precedence over the environment and the project's flags.
DBT_NO_USAGE_STATS_FLAG = "--no-send-anonymous-usage-stats"


def disable_usage_telemetry(env: MutableMapping[str, str] | None = None) -> None:
    """Turn every usage-telemetry switch off in `env` (default: this process's environment).

    Libraries read these when they are imported or invoked: call it before importing them.
    """
    if env is None:
        export_to_process(USAGE_TELEMETRY_OFF)
    else:
        env.update(USAGE_TELEMETRY_OFF)
