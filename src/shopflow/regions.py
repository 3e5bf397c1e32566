"""Sales regions: groups of customer countries, the unit of row-level security (docs/governance.md).

transform/macros/regions.sql maps countries the same way in SQL; a test keeps the two equal.
"""

from __future__ import annotations

REGION_COUNTRIES: dict[str, tuple[str, ...]] = {
    "americas": ("United States", "Canada"),
    "europe": ("United Kingdom", "Germany", "France", "Spain", "Italy", "Netherlands"),
    "apac": ("Australia",),
}
# A country in no group: visible to the unrestricted roles only.
OTHER_REGION = "other"
REGIONS = tuple(REGION_COUNTRIES)


def region_role(region: str) -> str:
    """The warehouse role that sees only `region`'s customers."""
    return f"shopflow_region_{region}"


def region_password_variable(region: str) -> str:
    return f"WAREHOUSE_REGION_{region.upper()}_PASSWORD"
