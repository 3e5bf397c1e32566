"""Typer sub-commands of the `shopflow` CLI; each module wires package functions, nothing more."""
