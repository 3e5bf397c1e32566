{#
    md5 surrogate key over a list of SQL expressions, stable across rebuilds and sessions.
    Nulls get a sentinel so (null, 'a') and ('', 'a') differ. Pass timestamps through
    utc_text(): a bare timestamptz::text depends on the session time zone.
#}
{% macro surrogate_key(expressions) -%}
    {%- if expressions is string or expressions | length == 0 -%}
        {{ exceptions.raise_compiler_error("surrogate_key expects a non-empty list of SQL expressions, got " ~ expressions) }}
    {%- endif -%}
    md5(
        {%- for expression in expressions %}
        coalesce(cast({{ expression }} as text), '_shopflow_null_')
        {%- if not loop.last %} || '-' ||{% endif -%}
        {%- endfor %}
    )
{%- endmacro %}
