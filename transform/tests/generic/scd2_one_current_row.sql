{#- SCD2 invariant: every entity has exactly one current row, and it is the one with the open valid_to. -#}
{% test scd2_one_current_row(model, entity_column, is_current_column='is_current', valid_to_column='valid_to') %}

with per_entity as (

    select
        {{ entity_column }} as entity_id,
        count(*) filter (where {{ is_current_column }}) as current_rows,
        count(*) filter (
            where {{ is_current_column }} and {{ valid_to_column }} = {{ open_valid_to() }}
        ) as current_rows_open,
        count(*) filter (
            where not {{ is_current_column }} and {{ valid_to_column }} = {{ open_valid_to() }}
        ) as closed_rows_open
    from {{ model }}
    group by {{ entity_column }}

)

select * from per_entity
where current_rows <> 1 or current_rows_open <> 1 or closed_rows_open <> 0

{% endtest %}
