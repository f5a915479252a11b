"""`ptx render`: render a subject's own frames, or a pose file, with its trained model."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cli.options import subject_option, workspace_option
from ptx.cli.reporting import out_console


def render(
    subject: str = subject_option(help="The trained subject."),
    run: str | None = typer.Option(None, "--run", help="Run folder or name (default: newest)."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Use the newest run of this method (default: any)."
    ),
    frames: str = typer.Option("heldout", help="heldout (never trained on) or all."),
    poses: str | None = typer.Option(
        None,
        "--poses",
        help="Render this pose file instead: openpose:DIR, ComfyUI/DWPose .json, COCO-17 "
        ".json/.npy, SMPL/AMASS .npz (a kind: prefix is optional).",
    ),
    start: float | None = typer.Option(None, help="Start, seconds into the sequence."),
    end: float | None = typer.Option(None, help="End, seconds into the sequence."),
    max_frames: int | None = typer.Option(None, help="Render at most this many frames."),
    fps: float | None = typer.Option(
        None, help="Output frame rate (default: the pose file's own, else the subject's)."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Result .mp4."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Render SUBJECT's own held-out (or all) frames from their poses, or a pose file."""
    from ptx.api import render as api_render

    res = api_render(
        subject, output, method=method, run=run, frames=frames, poses=poses, fps=fps,
        start=start, end=end, max_frames=max_frames, device=device, workspace=workspace,
    )  # fmt: skip
    for note in res.notes:
        out_console.print(f"note: {note}", highlight=False)
    out_console.print(
        f"{res.frames} frames at {res.fps:g} fps, {res.render_fps:.1f} frames/s. "
        f"Wrote {res.output}",
        highlight=False,
    )
