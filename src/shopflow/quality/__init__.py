"""The quality stage: Great Expectations 1.x suites gate every raw partition before it loads, and the marts.

- `frames`: read a partition's CSV into a typed frame that keeps unparseable values visible.
- `suites` / `marts`: the expectation suites, as code.
- `gate`: validate, raise `QualityGateError`, record into `ops.validation_results`, validate the marts.
- `data_docs`: render GX Data Docs from the recorded results.

Importing this package does not import Great Expectations (4-6 s); it is loaded when a gate runs.
"""
