"""The simulated shop: the FakeStore catalog client, the `shop` database simulator and the clickstream."""

from __future__ import annotations


class SourceError(RuntimeError):
    """A source could not be read or returned data that breaks the contract; the message says where."""


class SimulationError(RuntimeError):
    """The shop simulator was asked for something inconsistent with the state it has already written."""


__all__ = ["SimulationError", "SourceError"]
