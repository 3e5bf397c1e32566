"""Shopflow: an e-commerce analytics platform."""
