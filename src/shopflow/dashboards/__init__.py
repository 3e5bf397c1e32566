"""Dashboards as code: definitions in metabase/, built-in HTML dashboards, Metabase provisioning."""

from shopflow.dashboards.definitions import Card, Dashboard, DefinitionError, load_dashboards
from shopflow.dashboards.html import render_dashboards

__all__ = ["Card", "Dashboard", "DefinitionError", "load_dashboards", "render_dashboards"]
