{#-
    SCD2 invariant: per entity, windows ordered by valid_from are non-empty (valid_from < valid_to),
    contiguous and non-overlapping (each valid_to equals the next valid_from), numbered 1..n, and the
    last one is open-ended.
-#}
{% test scd2_contiguous_windows(
    model,
    entity_column,
    valid_from_column='valid_from',
    valid_to_column='valid_to',
    version_column='version_number'
) %}

with windows as (

    select
        {{ entity_column }} as entity_id,
        {{ valid_from_column }} as valid_from,
        {{ valid_to_column }} as valid_to,
        {{ version_column }} as version_number,
        lead({{ valid_from_column }}) over (
            partition by {{ entity_column }} order by {{ valid_from_column }}
        ) as next_valid_from,
        row_number() over (
            partition by {{ entity_column }} order by {{ valid_from_column }}
        ) as expected_version_number
    from {{ model }}

),

violations as (

    select
        *,
        case
            when valid_from >= valid_to then 'empty or inverted window'
            when next_valid_from is not null and valid_to <> next_valid_from then 'gap or overlap'
            when next_valid_from is null and valid_to <> {{ open_valid_to() }} then 'last window not open'
            when version_number <> expected_version_number then 'version numbers not 1..n by valid_from'
        end as violation
    from windows

)

select * from violations
where violation is not null

{% endtest %}
