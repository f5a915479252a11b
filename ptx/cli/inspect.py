"""`ptx inspect`: a contact sheet of what the stages found, to check before training."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cache.workspace import Workspace
from ptx.cli.options import workspace_option
from ptx.cli.reporting import out_console
from ptx.errors import InputError


def inspect(
    target: str | None = typer.Argument(
        None,
        help="A prepared video file or frame folder, a subject name or a video id.",
        show_default=False,
    ),
    subject: str | None = typer.Option(
        None, "--subject", "-s", help="Inspect this subject (instead of TARGET)."
    ),
    stage: str | None = typer.Option(
        None, "--stage", help="Only the panels of this stage (e.g. keypoints, mask)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="PNG to write (default: WORKSPACE/outputs/inspect/...)."
    ),
    frames: int = typer.Option(12, "--frames", help="How many frames to show."),
    tile: int = typer.Option(256, "--tile", help="Long side of each picture in pixels."),
    workspace: Path | None = workspace_option(),
) -> None:
    """Write a contact sheet: sampled frames with skeletons, masks and pose labels."""
    if (target is None) == (subject is None):
        raise InputError("Name one video or subject to inspect (TARGET or --subject).")
    from ptx.cache.store import VideoStore
    from ptx.tools.inspect import contact_sheet, resolve_videos, write_png

    ws = Workspace.open(workspace, create=False)
    videos = resolve_videos(ws, target or subject)
    for label, video_id in videos:
        title = f"{label}  (video {video_id})"
        sheet = contact_sheet(VideoStore(ws, video_id), stage, frames, max(64, tile), title)
        if output is None:
            path = ws.root / "outputs" / "inspect" / f"{label}-{video_id}.png"
        elif len(videos) > 1:
            path = output.with_name(f"{output.stem}-{video_id}{output.suffix or '.png'}")
        else:
            path = output
        write_png(path, sheet)
        out_console.print(f"Wrote {path}", highlight=False)
