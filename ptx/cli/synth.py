"""`ptx synth`: render a synthetic subject with ground truth (the test and demo fixture)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ptx.cli.reporting import out_console


def synth(
    out: Path = typer.Argument(
        ..., help="The video to write (.mp4), or a folder with --people.", show_default=False
    ),
    motion: str = typer.Option("dance", "--motion", "-m", help="dance, walk or wave."),
    frames: int = typer.Option(64, "--frames", "-n", help="Number of frames."),
    size: int = typer.Option(256, "--size", help="Frame width and height in pixels (even)."),
    width: int | None = typer.Option(
        None, "--width", help="Frame width in pixels (even; default --size): portrait or landscape."
    ),
    height: int | None = typer.Option(
        None, "--height", help="Frame height in pixels (even; default --size)."
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the appearance (and of the motion, without --motion-seed)."
    ),
    motion_seed: int | None = typer.Option(
        None, "--motion-seed", help="Seed of the motion alone: the same person, another motion."
    ),
    people: int | None = typer.Option(
        None,
        "--people",
        help="Write this many different people performing the identical motion into the "
        "folder OUT (person i has appearance seed --seed + i).",
    ),
    fps: float = typer.Option(25.0, "--fps", help="Frame rate."),
) -> None:
    """Render the open body model dancing, walking or waving in front of a static
    background, and write its ground truth (keypoints, masks, IUV, body) beside the video."""
    from ptx.body.synth import SynthConfig, synthesize, synthesize_people

    t0 = time.perf_counter()
    cfg = SynthConfig(
        motion=motion, frames=frames, size=size, width=width or 0, height=height or 0,
        seed=seed, motion_seed=motion_seed, fps=fps,
    )  # fmt: skip
    if people is not None:
        videos = synthesize_people(out, cfg, people)
        out_console.print(
            f"Wrote {len(videos)} people ({frames} frames each, {motion}, appearance seeds "
            f"{seed}..{seed + people - 1}, one motion) in [bold]{out}[/] in "
            f"{time.perf_counter() - t0:.1f} s.",
            highlight=False,
        )
        return
    gt = synthesize(out, cfg)
    h, w = cfg.shape
    out_console.print(
        f"Wrote [bold]{out}[/] ({frames} frames, {w}x{h}, {motion}, seed {seed}) and its "
        f"ground truth in {gt}/ in {time.perf_counter() - t0:.1f} s.\n"
        f"Prepare it with: ptx prepare {out} --keypoints openpose:{gt / 'openpose'}",
        highlight=False,
    )
