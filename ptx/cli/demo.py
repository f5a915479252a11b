"""`ptx demo`: the main job on something ptx generates itself, with nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cache.workspace import Workspace, default_workspace
from ptx.cli.reporting import RichReporter, out_console, outcome_table
from ptx.cli.status import print_status
from ptx.io.testclips import write_clip
from ptx.pipeline.runner import prepare_video


def demo(
    workspace: Path | None = typer.Option(
        None,
        "--workspace",
        "-w",
        help="Workspace folder (default: $PTX_WORKSPACE or ./ptx-workspace).",
    ),
) -> None:
    """Generate a clip, prepare it, and show the workspace status."""
    ws = Workspace(workspace.expanduser() if workspace else default_workspace())
    ws.ensure()
    clip = write_clip(ws.root / "outputs" / "demo-pattern.mp4", frames=96, width=320, height=240)
    out_console.print(f"Generated {clip}")
    reporter = RichReporter()
    with reporter:
        result = prepare_video(clip, ws, "demo", until="extract", reporter=reporter)
    out_console.print(outcome_table(reporter.outcomes))
    print_status(ws, result.subject)
