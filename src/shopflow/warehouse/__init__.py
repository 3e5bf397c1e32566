"""The PostgreSQL warehouse: raw schema DDL, the partition loader and the load ledger."""
