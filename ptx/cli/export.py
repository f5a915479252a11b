"""`ptx export`: take a prepared video's analysis to another tool, in its format."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cli.options import workspace_option
from ptx.cli.reporting import out_console
from ptx.errors import InputError


def export(
    target: str | None = typer.Argument(
        None,
        help="A prepared video file or frame folder, a subject or a video id.",
        show_default=False,
    ),
    what: str = typer.Option(
        ..., "--what", help="openpose, comfyui, pose-video, mask, iuv, background, smpl, frames."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The folder to write into."),
    subject: str | None = typer.Option(
        None, "--subject", "-s", help="Export this subject (instead of TARGET)."
    ),
    skeleton: str = typer.Option("body25", help="openpose: body25 or coco18 joints."),
    coords: str = typer.Option(
        "canonical",
        help="openpose/comfyui: canonical (ptx's frames) or source (the video's pixels).",
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="pose-video: mp4 (default) or png; mask, frames: png or mp4."
    ),
    workspace: Path | None = workspace_option(),
) -> None:
    """Export what ptx found in a video (keypoints, pose video, masks, IUV, background,
    body motion, frames) in the formats ComfyUI, ControlNet, Blender and OpenPose tools read."""
    from ptx.api import export as api_export

    if (target is None) == (subject is None):
        raise InputError("Name one video or subject to export (TARGET or --subject).")
    res = api_export(target or subject, what, output, skeleton=skeleton, coords=coords,
                     format=fmt, workspace=workspace)  # fmt: skip
    for note in res.notes:
        out_console.print(f"note: {note}", highlight=False)
    for path in res.outputs:
        out_console.print(f"Wrote {path}", highlight=False)
    out_console.print(f"{res.what}: {res.frames} frame(s).", highlight=False)
