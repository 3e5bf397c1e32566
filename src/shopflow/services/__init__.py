"""Embedded services for local runs: PostgreSQL, an S3 server (SeaweedFS) and a FakeStore-compatible API.

Each one is skipped when the matching external endpoint is configured (see shopflow.config).
"""
