"""`ptx transfer`: make a trained person perform another video's motion."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.cache.workspace import Workspace
from ptx.cli.options import workspace_option
from ptx.cli.reporting import RichReporter, out_console
from ptx.config import parse_assignments
from ptx.perform.transfer import transfer as run_transfer
from ptx.pipeline.keypoints import import_overrides


def transfer(
    source: Path = typer.Option(..., "--source", help="The video whose motion to use."),
    target: str = typer.Option(..., "--target", help="The trained subject who performs it."),
    run: str | None = typer.Option(None, "--run", help="Run folder or name (default: newest)."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Use the target's newest run of this method (default: any)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Result .mp4 (or .mov/.webm/folder with --alpha)."
    ),
    retarget: str = typer.Option("3d", help="Motion retargeting: 3d, 2d or none."),
    background: Path | None = typer.Option(
        None, "--background", help="Composite over this image instead of the learned one."
    ),
    alpha: bool = typer.Option(False, "--alpha", help="Output the person alone with alpha."),
    side_by_side: bool = typer.Option(False, "--side-by-side", help="Write source | result."),
    keep_audio: bool = typer.Option(False, "--keep-audio", help="Copy the source's audio."),
    output_size: int | None = typer.Option(
        None,
        "--output-size",
        help="Long side of the result in pixels (default: the model's); the aspect is the "
        "target's canonical frame's.",
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    source_keypoints: str | None = typer.Option(
        None,
        "--source-keypoints",
        help="Import the source's keypoints instead of running MediaPipe: openpose:DIR.",
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="A setting of the source's preparation, as STAGE.FIELD=VALUE."
    ),
    workspace: Path | None = workspace_option(),
) -> None:
    """Make TARGET perform the motion of SOURCE (the source is prepared and cached first)."""
    ws = Workspace.open(workspace, create=False)
    prepare = parse_assignments(set_)
    if source_keypoints is not None:
        prepare.setdefault("keypoints", {}).update(import_overrides(source_keypoints))
    with RichReporter() as reporter:
        result = run_transfer(
            ws, source, target, output, run, retarget, background, alpha, side_by_side,
            keep_audio, output_size, prepare, reporter=reporter, device=device, method=method,
        )  # fmt: skip
    for note in result.notes:
        out_console.print(f"note: {note}", highlight=False)
    out_console.print(
        f"{result.frames} frames at {result.fps:g} fps, {result.render_fps:.1f} frames/s "
        f"(run {result.run.name})",
        highlight=False,
    )
    out_console.print(f"Wrote {result.output}", highlight=False)
