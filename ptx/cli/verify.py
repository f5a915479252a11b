"""`ptx verify`: check every file ptx wrote in a workspace (or of one subject or video)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ptx.cache.workspace import Workspace
from ptx.cli.options import workspace_option
from ptx.cli.reporting import RichReporter, out_console, outcome_table
from ptx.errors import DamagedError


def verify(
    target: str | None = typer.Argument(
        None, help="A subject, a video id or a prepared video file (default: everything)."
    ),
    repair: bool = typer.Option(
        False, "--repair", help="Prepare damaged videos again (only the damaged chunks)."
    ),
    workspace: Path | None = workspace_option(),
) -> None:
    """Read every chunk, record, settings file and checkpoint and check them against their
    checksums; exit 7 when something is damaged (--repair recomputes damaged videos)."""
    from ptx.tools.verify import repair as repair_videos
    from ptx.tools.verify import verify as verify_workspace

    ws = Workspace.open(workspace, create=False)
    report = verify_workspace(ws, target)
    table = Table(title=f"ptx verify ({ws.root})", title_justify="left")
    for col in ("what", "name", "checked", "state"):
        table.add_column(col)
    for line in report.workspace:
        table.add_row("workspace", "", "", f"[bold red]{line}[/]")
    for v in report.videos:
        state = "[green]intact[/]" if not v.problems else "[bold red]damaged[/]"
        who = f"{v.video_id} ({v.file}; {', '.join(v.subjects) or 'no subject'})"
        table.add_row("video", who, f"{v.chunks} chunks", state)
        for p in v.problems:
            table.add_row("", "", "", p)
    for r in report.runs:
        state = "[green]intact[/]" if not r.problems else "[bold red]damaged[/]"
        table.add_row("run", f"{r.subject}/{r.method}/{r.run}", f"{r.checkpoints} ckpt", state)
        for p in r.problems:
            table.add_row("", "", "", p)
    out_console.print(table)
    if not report.problems:
        out_console.print("Everything checked is intact.", highlight=False)
        return
    if repair:
        reporter = RichReporter()
        try:
            with reporter:
                repair_videos(ws, report, reporter)
        finally:
            if reporter.outcomes:
                out_console.print(outcome_table(reporter.outcomes))
        again = verify_workspace(ws, target)
        left = sum(len(v.problems) for v in again.videos) + len(again.workspace)
        if not left and not any(r.problems for r in again.runs):
            out_console.print("Repaired; everything checked is intact now.", highlight=False)
            return
        report = again
    fix = (
        "Run `ptx verify --repair` to recompute the damaged chunks."
        if any(v.problems for v in report.videos) and not repair
        else "See the table above for each file and its fix."
    )
    raise DamagedError(f"{report.problems} damaged item(s) in {ws.root}.", fix)
