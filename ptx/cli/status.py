"""`ptx status`: what is cached for each subject and video, and what is stale."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ptx.cache.workspace import Workspace
from ptx.cli.options import workspace_option
from ptx.cli.reporting import out_console

_COLOURS = {
    "complete": "green",
    "stale": "yellow",
    "partial": "magenta",
    "missing": "red",
    "damaged": "bold red",
}


def status(
    subject: str | None = typer.Argument(None, help="Only this subject."),
    only: str | None = typer.Option(None, "--subject", "-s", help="Only this subject."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Show subjects, their videos, each stage's state (complete, stale, partial, missing),
    and their training runs."""
    print_status(Workspace.open(workspace, create=False), subject or only)


def print_status(ws: Workspace, subject: str | None = None) -> None:
    """Print the status table of ``ws`` (all subjects, or one)."""
    from ptx.tools.status import run_status, workspace_damage, workspace_status

    for problem in workspace_damage(ws):
        out_console.print(f"[bold red]damaged[/]: {problem}", highlight=False)
    rows = workspace_status(ws, subject)
    if not rows:
        out_console.print(f"No prepared videos in {ws.root}. Run `ptx prepare VIDEO`.")
        return
    table = Table(title=f"ptx status ({ws.root})", title_justify="left")
    for col in ("subject", "video", "file", "frames", "stage", "state", "detail"):
        table.add_column(col, justify="right" if col == "frames" else "left")
    for row in rows:
        for i, st in enumerate(row.stages):
            table.add_row(
                row.subject if i == 0 else "",
                row.video_id if i == 0 else "",
                row.file if i == 0 else "",
                str(st.frames) if st.frames else "",
                st.stage,
                f"[{_COLOURS[st.state]}]{st.state}[/]",
                st.detail,
            )
        table.add_section()
    out_console.print(table)
    runs = run_status(ws, subject)
    if runs:
        table = Table(title="training runs", title_justify="left")
        for col in ("subject", "method", "run", "checkpoint", "inputs"):
            table.add_column(col)
        for r in runs:
            inputs = "[yellow]" + "; ".join(r.changes) + " since[/]" if r.changes else "unchanged"
            table.add_row(r.subject, r.method, r.run, r.checkpoint or "-", inputs)
        out_console.print(table)
