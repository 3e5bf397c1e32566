{#
    Models land in the schema named by their folder config (staging, intermediate, marts) exactly,
    not dbt's default "<target schema>_<custom>": the dashboards and docs name these schemas.
    Models without a custom schema fall back to the target schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
