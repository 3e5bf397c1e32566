{#
    The sales region (country group) of a customer's country; row-level security on the customer
    marts keys on it (docs/governance.md). src/shopflow/regions.py holds the same mapping.
#}
{% macro country_region(country) -%}
    case
        when {{ country }} in ('United States', 'Canada') then 'americas'
        when {{ country }} in (
            'United Kingdom', 'Germany', 'France', 'Spain', 'Italy', 'Netherlands'
        ) then 'europe'
        when {{ country }} in ('Australia') then 'apac'
        else 'other'
    end
{%- endmacro %}

{#
    Post-hook of every mart: dbt replaces a table on each build, which drops its policies, so the
    region policy is applied again to a mart with a `region` column. The function comes from
    `shopflow warehouse roles` (src/shopflow/warehouse/roles.sql); without it the hook does nothing.
#}
{% macro restrict_rows_by_region() -%}
    do $$
    begin
        if to_regprocedure('public.shopflow_restrict_rows_by_region(regclass)') is not null then
            perform public.shopflow_restrict_rows_by_region('{{ this }}'::regclass);
        end if;
    end
    $$
{%- endmacro %}
