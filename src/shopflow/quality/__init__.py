"""The quality stage: Great Expectations 1.x suites gate every raw partition before it loads.

The marts' quality belongs to dbt (types, constraints, data and unit tests, reconciliations in
`transform/`), checked by every `dbt build`.

- `frames`: read a partition's CSV into a typed frame that keeps unparseable values visible.
- `suites`: the expectation suites, as code.
- `gate`: the loader's gate (`gate_staged`: set-based checks, GX decides failures), GX on a frame or a
  file; verdicts are recorded by `shopflow.warehouse.ops`.
- `set_based`: a raw suite answered by one query over the partition staged in the load transaction.
- `data_docs`: render GX Data Docs from the recorded results.

Importing this package does not import Great Expectations (4-6 s); it is loaded when a gate runs.
"""
