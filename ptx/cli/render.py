"""`ptx render`: render a subject's own frames with its trained model."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cache.workspace import Workspace
from ptx.cli.options import workspace_option
from ptx.cli.reporting import out_console
from ptx.perform.render import render_subject


def render(
    subject: str = typer.Option(..., "--subject", help="The trained subject."),
    run: str | None = typer.Option(None, "--run", help="Run folder or name (default: newest)."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Use the newest run of this method (default: any)."
    ),
    frames: str = typer.Option("heldout", help="heldout (never trained on) or all."),
    poses: str | None = typer.Option(
        None, "--poses", help="Render this pose sequence instead: openpose:DIR (OpenPose JSON)."
    ),
    fps: float | None = typer.Option(None, help="Frame rate for --poses (default: subject's)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Result .mp4."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Render SUBJECT's own held-out (or all) frames from their poses, or a pose sequence
    from OpenPose JSON."""
    ws = Workspace.open(workspace, create=False)
    name = "poses" if poses else frames
    out = output or ws.root / "outputs" / f"{subject}-{name}.mp4"
    path, n, speed = render_subject(ws, subject, out, run, frames, device, poses, fps, method)
    out_console.print(f"{n} frames, {speed:.1f} frames/s. Wrote {path}", highlight=False)
