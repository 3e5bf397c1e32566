"""Dashboards as code: definitions in metabase/, built-in HTML dashboards, Metabase provisioning."""

from shopflow.dashboards.definitions import Card, Dashboard, DefinitionError, load_dashboards
from shopflow.dashboards.html import render_dashboards
from shopflow.dashboards.metabase import (
    MetabaseError,
    ProvisionReport,
    WarehouseConnection,
    provision,
    provision_from_settings,
)

__all__ = [
    "Card",
    "Dashboard",
    "DefinitionError",
    "MetabaseError",
    "ProvisionReport",
    "WarehouseConnection",
    "load_dashboards",
    "provision",
    "provision_from_settings",
    "render_dashboards",
]
