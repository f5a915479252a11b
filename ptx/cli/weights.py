"""`ptx weights`: the optional weights files ptx can use, and whether they are in place."""

from __future__ import annotations

import typer
from rich.table import Table

from ptx import weights as W
from ptx.cli.reporting import out_console


def weights(
    action: str = typer.Argument("list", help="list, or verify (also checks SHA-256)."),
) -> None:
    """List the optional weights files (what uses them, where to get them) or verify them."""
    if action not in ("list", "verify"):
        raise typer.BadParameter("use 'list' or 'verify'")
    rows = W.status(check=action == "verify")
    table = Table(title=f"weights directory: {W.weights_dir()}", title_justify="left")
    for col in ("key", "file", "status", "used by", "official URL", "SHA-256"):
        table.add_column(col)
    bad = 0
    for r in rows:
        if not r.present:
            state = "[yellow]missing[/]"
        elif r.verified is None:
            state = "[green]present[/]"
        elif r.verified:
            state = "[green]verified[/]"
        else:
            state, bad = "[red]hash differs[/]", bad + 1
        table.add_row(r.file.key, r.file.filename, state, r.file.used_by, r.file.url, r.file.sha256)
    out_console.print(table)
    if bad:
        raise typer.Exit(6)
