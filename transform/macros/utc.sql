{#
    Dates and hours are UTC everywhere (docs/contracts.md). Casting a timestamptz to date or
    extracting its hour uses the session time zone, so every conversion goes through these.
#}
{% macro utc_date(timestamp_expression) -%}
    cast(({{ timestamp_expression }} at time zone 'UTC') as date)
{%- endmacro %}

{% macro utc_hour(timestamp_expression) -%}
    cast(extract(hour from ({{ timestamp_expression }} at time zone 'UTC')) as integer)
{%- endmacro %}

{% macro utc_text(timestamp_expression) -%}
    to_char(({{ timestamp_expression }} at time zone 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
{%- endmacro %}

{% macro date_key(date_expression) -%}
    cast(to_char({{ date_expression }}, 'YYYYMMDD') as integer)
{%- endmacro %}

{% macro open_valid_to() -%}
    cast('9999-12-31 00:00:00+00' as timestamptz)
{%- endmacro %}
