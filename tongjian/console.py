"""The rich console the commands print tables to."""

from __future__ import annotations

from rich.console import Console


def table_console() -> Console:
    """A terminal keeps its width; a pipe, log or CI job (no width to ask) gets room for wide tables."""
    console = Console()
    return console if console.is_terminal else Console(width=132)
