"""`ptx prepare`: run every preprocessing stage on a video, skipping what is current."""

from __future__ import annotations

from pathlib import Path

import typer

from ptx.api import prepare as api_prepare
from ptx.cli.options import workspace_at, workspace_option
from ptx.cli.reporting import out_console, outcome_table, stage_reporter
from ptx.config import parse_assignments


def prepare(
    videos: list[Path] = typer.Argument(
        None,
        metavar="VIDEO",
        help="The video file, or a folder of frames (or a %05d.png pattern); several make a batch.",
        show_default=False,
    ),
    subject: str | None = typer.Option(
        None, "--subject", "-s", help="Subject name (default: from the file name)."
    ),
    workspace: Path | None = workspace_option(),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Stage settings from a YAML file ({stage: {field: value}})."
    ),
    analysis_size: int | None = typer.Option(
        None, help="Long side of the analysis frames in pixels (default 640)."
    ),
    fps: float | None = typer.Option(
        None, help="Constant output frame rate (default: the source rate; 25 for frames)."
    ),
    start: float | None = typer.Option(None, help="Start time in seconds (default 0)."),
    end: float | None = typer.Option(None, help="End time in seconds (default: the end)."),
    max_frames: int | None = typer.Option(None, help="Keep at most this many frames."),
    size: int | None = typer.Option(
        None, "--size", help="Long side of the canonical frames in pixels (default 512)."
    ),
    aspect: str | None = typer.Option(
        None,
        "--aspect",
        help="Shape of the canonical frames: auto (the clip's, default), square, or W:H.",
    ),
    keypoints: str | None = typer.Option(
        None,
        "--keypoints",
        help="Import keypoints instead of running MediaPipe: openpose:DIR (OpenPose JSON).",
    ),
    iuv: str | None = typer.Option(
        None, "--iuv", help="Import IUV images DensePose wrote: densepose:DIR (one per frame)."
    ),
    body: str | None = typer.Option(
        None, "--body", help="Body model for the fit: open (default) or smpl:PATH."
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Fail instead of warning when a quality check finds a problem (also on cached "
        "stages; re-runs nothing).",
    ),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="STAGE.FIELD=VALUE",
        help="Any stage setting, as STAGE.FIELD=VALUE (repeatable).",
    ),
    force: list[str] = typer.Option(
        [],
        "--force",
        metavar="STAGE",
        help="Re-run this stage and everything after it (repeatable; 'all').",
    ),
    until: str | None = typer.Option(None, "--until", help="Stop after this stage."),
    from_: Path | None = typer.Option(
        None, "--from", help="A file listing videos, one per line ('-': standard input)."
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Prepare this many videos at once."),
    ray: str | None = typer.Option(
        None,
        "--ray",
        help="One Ray task per video: on a local instance, or 'auto' / ADDRESS of a cluster.",
        show_default=False,
    ),
    shard: str | None = typer.Option(
        None, "--shard", help="I/N: only every N-th video, from the I-th (0-based; job arrays)."
    ),
    task_cpus: float = typer.Option(1.0, "--task-cpus", help="CPUs per Ray task."),
    task_memory: float = typer.Option(2.0, "--task-memory", help="GiB of memory per Ray task."),
    task_gpus: float = typer.Option(0.0, "--task-gpus", help="GPUs per Ray task (fit stage)."),
    retries: int = typer.Option(
        2, "--retries", help="Times a video whose worker died is given to another."
    ),
) -> None:
    """Prepare a video: decode it and run every preprocessing stage, cached and resumable.
    Several videos (or --from, --jobs, --ray, --shard) prepare a batch."""
    ws = workspace_at(workspace)
    videos = list(videos or [])
    if len(videos) != 1 or from_ or jobs != 1 or ray or shard:
        from ptx.cli.prepare_batch import run_batch

        run_batch(
            videos, ws, list_file=from_, shard=shard, jobs=jobs, ray=ray, task_cpus=task_cpus,
            task_memory_gb=task_memory, task_gpus=task_gpus, retries=retries, subject=subject,
            size=size, aspect=aspect, analysis_size=analysis_size, fps=fps, start=start,
            end=end, max_frames=max_frames, keypoints=keypoints, iuv=iuv, body=body,
            strict=strict, settings=parse_assignments(set_), config=config, force=force,
            until=until,
        )  # fmt: skip
        return
    (video,) = videos
    reporter = stage_reporter()
    try:
        with reporter:
            result = api_prepare(
                video, subject, workspace=ws, size=size, aspect=aspect, analysis_size=analysis_size,
                fps=fps,
                start=start, end=end, max_frames=max_frames, keypoints=keypoints, iuv=iuv,
                body=body, strict=strict, settings=parse_assignments(set_), config=config,
                force=force, until=until, progress=reporter,
            )  # fmt: skip
    finally:
        if reporter.outcomes:
            out_console.print(outcome_table(reporter.outcomes))
    out_console.print(
        f"Prepared [bold]{video.name}[/] as video {result.video_id} of subject "
        f"[bold]{result.subject}[/] in {ws.root}",
        highlight=False,
    )
