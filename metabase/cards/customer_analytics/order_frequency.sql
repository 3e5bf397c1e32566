select
    mof.frequency_bucket,
    mof.customer_count,
    mof.share_of_customers
from marts.mart_order_frequency as mof
order by mof.bucket_sort
