"""The gate's record: outcomes upserted into ops.validation_results, read back, rendered as Data Docs."""

from __future__ import annotations

import shutil
import uuid
from datetime import date

import psycopg2

from shopflow.contracts import ORDERS, PRODUCTS
from shopflow.quality.data_docs import GX_PROJECT_DIR, build_data_docs
from shopflow.quality.gate import validate_csv
from shopflow.quality.suites import PartitionContext
from shopflow.warehouse.ops import VALIDATION_RESULTS, load_outcomes, record_validation
from tests.quality_samples import SAMPLE_PRODUCT_IDS, partition_csv, sample_rows

DT = date(2026, 1, 3)


def _outcomes():
    contexts = [
        PartitionContext(PRODUCTS, DT, 5, known_product_ids=SAMPLE_PRODUCT_IDS),
        PartitionContext(ORDERS, DT, 5),
    ]
    return [validate_csv(ctx, partition_csv(ctx.entity, sample_rows(ctx.entity, DT, 5))) for ctx in contexts]


def test_record_validation_is_idempotent_and_data_docs_render(stack, tmp_path):
    batch_id = f"test-docs-{uuid.uuid4().hex[:8]}"
    outcomes = _outcomes()
    conn = psycopg2.connect(stack.warehouse_dsn)
    try:
        with conn:
            for _ in range(2):  # a re-validated batch replaces its row
                for outcome in outcomes:
                    record_validation(conn, outcome, batch_id)
        with conn.cursor() as cur:
            cur.execute(f"select count(*) from {VALIDATION_RESULTS} where batch_id = %s", (batch_id,))
            assert cur.fetchone()[0] == 2
        loaded = [
            o for o in load_outcomes(conn, limit=50) if o.entity in {e.qualified_name for e in (PRODUCTS, ORDERS)}
        ]
        assert {o.entity for o in loaded} == {"fakestore.products", "shop.orders"}
        assert all(o.success for o in loaded)

        project = tmp_path / "great_expectations"
        project.mkdir()
        shutil.copy(GX_PROJECT_DIR / "great_expectations.yml", project)
        index = build_data_docs(loaded, context_root_dir=project)
        assert index == project / "uncommitted" / "data_docs" / "local_site" / "index.html"
        pages = list((index.parent / "validations").rglob("*.html"))
        assert len(pages) >= 2 and all(not p.is_relative_to(GX_PROJECT_DIR) for p in pages)
    finally:
        with conn, conn.cursor() as cur:
            cur.execute(f"delete from {VALIDATION_RESULTS} where batch_id = %s", (batch_id,))
        conn.close()
