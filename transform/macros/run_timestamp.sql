{#
    The start of the current dbt invocation as a timestamptz literal (UTC). Incremental marts stamp
    the rows they write with it, so a downstream model can tell which rows changed since its own
    last run without trusting source timestamps (a backfilled day carries old ones).
    dbt always defines run_started_at; sqlfluff's plain-Jinja fallback (linting from the repo root)
    does not, and only needs some literal to parse.
#}
{% macro run_timestamp() -%}
    {%- if run_started_at is defined -%}
        '{{ run_started_at.astimezone(modules.pytz.utc).isoformat() }}'
    {%- else -%}
        '1970-01-01T00:00:00+00:00'
    {%- endif -%}
{%- endmacro %}
