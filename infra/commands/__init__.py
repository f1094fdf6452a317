"""Typer sub-applications of the `hatang` CLI, one module per command group."""
