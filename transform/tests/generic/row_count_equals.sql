{#- For marts that must always hold a fixed set of rows (24 hours, 6 buckets). -#}
{% test row_count_equals(model, expected) %}

with counted as (

    select count(*) as actual from {{ model }}

)

select actual, {{ expected }} as expected
from counted
where actual <> {{ expected }}

{% endtest %}
