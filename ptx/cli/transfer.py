"""`ptx transfer`: make a trained person perform another video's motion (or a batch of
such jobs, each model loaded once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ptx.cli.options import workspace_option
from ptx.cli.reporting import err_console, out_console, stage_reporter
from ptx.config import parse_assignments
from ptx.errors import InputError, PtxError


def _print(result: Any) -> None:
    for note in result.notes:
        out_console.print(f"note: {note}", highlight=False)
    out_console.print(
        f"{result.frames} frames at {result.fps:g} fps, {result.render_fps:.1f} frames/s "
        f"(run {result.run.name})",
        highlight=False,
    )
    out_console.print(f"Wrote {result.output}", highlight=False)


def transfer(
    source: str | None = typer.Option(
        None,
        "--source",
        help="Always the motion: a video, a folder of frames, or a pose file (openpose:DIR, "
        "ComfyUI/DWPose .json, COCO-17 .json/.npy, SMPL/AMASS .npz).",
    ),
    target: str | None = typer.Option(
        None, "--target", "-t", "--subject", "-s", help="The trained subject who performs it."
    ),
    target_image: Path | None = typer.Option(
        None,
        "--target-image",
        help="Or a photo (PNG/JPEG) of the person who performs it, animated by a one-shot "
        "model (ptx train --method dwnet --subjects ...).",
    ),
    run: str | None = typer.Option(None, "--run", help="Run folder or name (default: newest)."),
    method: str | None = typer.Option(
        None, "--method", "-m", help="Use the target's newest run of this method (default: any)."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Result .mp4 (or .mov/.webm/folder with --alpha)."
    ),
    batch: Path | None = typer.Option(
        None, "--batch", help="A YAML/JSON list of jobs {source, target, output, ...}."
    ),
    retarget: str | None = typer.Option(
        None, help="Motion retargeting: 3d, 2d or none (default: the method's; edn: 2d, else 3d)."
    ),
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
    start: float | None = typer.Option(None, help="Start of the source, seconds (default 0)."),
    end: float | None = typer.Option(None, help="End of the source, seconds (default: its end)."),
    max_frames: int | None = typer.Option(None, help="Use at most this many frames."),
    fps: float | None = typer.Option(
        None, help="Output frame rate (default: the source's own; a pose file's or 25 fps)."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    source_keypoints: str | None = typer.Option(
        None,
        "--source-keypoints",
        help="Import the source's keypoints instead of running MediaPipe: openpose:DIR.",
    ),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="STAGE.FIELD=VALUE",
        help="A setting of the source's preparation, as STAGE.FIELD=VALUE.",
    ),
    workspace: Path | None = workspace_option(),
) -> None:
    """Make TARGET perform the motion of SOURCE (the source is prepared and cached first)."""
    from ptx.api import transfer as api_transfer
    from ptx.api import transfer_batch

    if batch is not None:
        _batch(transfer_batch, batch, workspace, device)
        return
    if not source or not (target or target_image):
        raise InputError("Give --source and --target (or --target-image, or --batch FILE).")
    if target and target_image:
        raise InputError("Give --target or --target-image, not both.")
    with stage_reporter() as reporter:
        result = api_transfer(
            source, target, output, method=method, run=run, retarget=retarget,
            target_image=target_image,
            background=background, alpha=alpha, side_by_side=side_by_side,
            keep_audio=keep_audio, output_size=output_size, device=device,
            source_keypoints=source_keypoints, settings=parse_assignments(set_), start=start,
            end=end, max_frames=max_frames, fps=fps, workspace=workspace, progress=reporter,
        )  # fmt: skip
    _print(result)


def _batch(run_batch: Any, batch: Path, workspace: Path | None, device: str) -> None:
    def done(job: dict, result: Any, error: PtxError | None) -> None:
        if error is not None:
            err_console.print(f"[red]failed[/]: {job['source']} -> {job['target']}: {error}",
                              highlight=False)  # fmt: skip
        else:
            _print(result)

    with stage_reporter() as reporter:
        res = run_batch(batch, workspace=workspace, device=device, progress=reporter,
                        on_done=done)  # fmt: skip
    total = len(res.results) + len(res.failures)
    out_console.print(f"{len(res.results)} of {total} transfers done.", highlight=False)
    if res.failures:
        first = res.failures[0][1]
        raise type(first)(
            f"{len(res.failures)} of {total} transfers failed (first: {first.message})",
            first.hint,
        )
