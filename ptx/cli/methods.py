"""`ptx methods`: the methods ptx can train, one line each."""

from __future__ import annotations

from rich.table import Table

from ptx.cli.reporting import out_console


def methods() -> None:
    """List the methods `ptx train --method` accepts: name, kind, paper, what it is."""
    from ptx.methods.registry import DEFAULT, METHODS

    table = Table(title="ptx methods", title_justify="left")
    for col in ("method", "kind", "presets", "paper", "what it is"):
        table.add_column(col)
    for name, m in METHODS.items():
        shown = f"{name} (default)" if name == DEFAULT else name
        table.add_row(shown, m.kind, ", ".join(m.presets), m.paper, m.summary)
    out_console.print(table)
