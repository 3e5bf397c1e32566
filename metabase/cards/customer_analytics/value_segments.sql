select
    vs.value_segment,
    vs.customers,
    vs.lifetime_revenue
from marts.mart_value_segments as vs
order by vs.value_segment_sort
