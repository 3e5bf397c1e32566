"""Helpers for running shopflow outside the embedded stack (the compose file's `.env`)."""
