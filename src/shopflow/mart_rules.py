"""Thresholds of the marts' business rules, for Python code that states or checks them.

dbt builds the marts with the same values from the vars in `transform/dbt_project.yml`;
`tests/test_dbt_runner.py` fails when the two disagree. Kept free of heavy imports: the dashboards'
insights read them too.
"""

from __future__ import annotations

# mart_customer_lifetime_value.value_segment: lower bounds of lifetime revenue (USD, inclusive).
VALUE_SEGMENT_MIN = {"VIP": 5000, "High": 1000, "Medium": 500}

# mart_product_performance.inventory_status: units sold in the last SLOW_MOVER_WINDOW_DAYS days to the
# latest order date, as a share of the catalog's median product. Nothing sold or below the red share
# is 'slow-moving' (red), below the orange share 'watch' (orange), the rest 'healthy' (green).
SLOW_MOVER_WINDOW_DAYS = 90
SLOW_MOVER_RED_SHARE = 0.40
SLOW_MOVER_ORANGE_SHARE = 0.65

# mart_daily_active_customers: customers with an order in this many days ending on each day.
ACTIVE_CUSTOMER_WINDOW_DAYS = 30

# The dbt var each constant mirrors.
DBT_VARS = {
    "value_segment_vip_min": VALUE_SEGMENT_MIN["VIP"],
    "value_segment_high_min": VALUE_SEGMENT_MIN["High"],
    "value_segment_medium_min": VALUE_SEGMENT_MIN["Medium"],
    "slow_mover_window_days": SLOW_MOVER_WINDOW_DAYS,
    "slow_mover_red_share": SLOW_MOVER_RED_SHARE,
    "slow_mover_orange_share": SLOW_MOVER_ORANGE_SHARE,
    "active_customer_window_days": ACTIVE_CUSTOMER_WINDOW_DAYS,
}
