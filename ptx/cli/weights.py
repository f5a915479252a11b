"""`ptx weights`: the optional weights files ptx can use, and whether they are in place."""

from __future__ import annotations

import shlex

import typer
from rich.markup import escape
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
    table.add_column("key")
    for col in ("file", "status", "used by", "official URL", "SHA-256"):
        table.add_column(col, overflow="fold")  # names, links and digests are never cut
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
        if r.present and r.path.parent == W.torch_hub_dir():
            state += " (torch hub cache)"
        elif r.present and r.file.packaged and r.path.parent != W.weights_dir():
            state += f" ({r.file.packaged[0]}'s copy)"
        table.add_row(r.file.key, r.file.filename, state, r.file.used_by, r.file.url, r.file.sha256)
    out_console.print(table)
    missing = [r for r in rows if not r.present]
    if missing:
        out_console.print("To fetch the missing files:")
        for r in missing:  # one unwrapped line each, ready to paste
            target = shlex.quote(str(W.weights_dir() / r.file.filename))
            line = f"  curl -L --create-dirs -o {target} {r.file.url}"
            out_console.print(escape(line), soft_wrap=True, highlight=False)
    if bad:
        raise typer.Exit(6)
