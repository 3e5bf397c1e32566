select
    lvb.value_band as lifetime_value,
    lvb.customers
from marts.mart_lifetime_value_bands as lvb
order by lvb.band_sort
