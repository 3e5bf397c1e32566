"""Products: a full snapshot of the catalog API for the day."""

from __future__ import annotations

from datetime import date

from shopflow.contracts import PRODUCTS
from shopflow.extract import ExtractResult, rows_to_csv, sealed_partition, write_partition
from shopflow.lake import Lake, day_interval
from shopflow.sources.fakestore_client import fetch_products


def extract_products(lake: Lake, api_url: str, dt: date, *, force: bool = False) -> ExtractResult:
    """Snapshot every product from the API into raw/fakestore/products/dt=<dt>/ (a sealed one is kept)."""
    if not force and (sealed := sealed_partition(lake, PRODUCTS, dt)):
        return sealed
    products = fetch_products(api_url)
    columns = PRODUCTS.data_column_names
    rows = [[product[c] for c in columns] + [dt.isoformat()] for product in products]
    rows.sort(key=lambda row: row[0])
    _, end = day_interval(dt)
    return write_partition(lake, PRODUCTS, dt, rows_to_csv(PRODUCTS.column_names, rows), len(rows), end.isoformat())
