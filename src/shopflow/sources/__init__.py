"""The simulated shop: the FakeStore catalog client, the `shop` database simulator and the clickstream."""

from __future__ import annotations

from shopflow.errors import ShopflowError


class SourceError(ShopflowError, RuntimeError):
    """A source could not be read or returned data that breaks the contract; the message says where."""


class SimulationError(ShopflowError, RuntimeError):
    """The shop simulator was asked for something inconsistent with the state it has already written."""


__all__ = ["SimulationError", "SourceError"]
