"""`ptx render`: render a subject's own frames with its trained model."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cache.workspace import Workspace
from ptx.cli.options import workspace_option
from ptx.cli.reporting import out_console
from ptx.pipeline.render import render_subject


def render(
    subject: str = typer.Option(..., "--subject", help="The trained subject."),
    run: str | None = typer.Option(None, "--run", help="Run folder or name (default: newest)."),
    frames: str = typer.Option("heldout", help="heldout (never trained on) or all."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Result .mp4."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Render SUBJECT's own held-out (or all) frames from their poses."""
    ws = Workspace.open(workspace, create=False)
    out = output or ws.root / "outputs" / f"{subject}-{frames}.mp4"
    path, n, fps = render_subject(ws, subject, out, run, frames, device)
    out_console.print(f"{n} frames, {fps:.1f} frames/s. Wrote {path}", highlight=False)
