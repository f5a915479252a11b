"""The synthetic subject, made the way a user makes one: ``ptx synth`` renders it with its
OpenPose JSON beside the video, and ``ptx prepare --keypoints openpose:DIR`` prepares it
through every stage without MediaPipe (the person mask from the skeleton, since imported
keypoints come without MediaPipe's segmentation)."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path
from typing import Any

SUBJECT = "gpucheck"
SUBJECT_KEYS = ("name", "frames", "size", "workspace", "synth_seconds", "prepare_seconds")


def _run(args: list[str | Path | int], what: str) -> float:
    """``ptx ARGS`` through the CLI's own entry point, in this process (its console output
    is kept out of the check's); the seconds it took."""
    from ptx.cli.main import run

    t0 = time.perf_counter()
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = run([str(a) for a in args])
    if code != 0:
        lines = [ln for ln in buffer.getvalue().splitlines() if ln.strip()]
        raise RuntimeError(f"{what} failed (exit {code}): {' | '.join(lines[-3:])}")
    return time.perf_counter() - t0


def prepare(tmp: Path, frames: int, size: int) -> dict[str, Any]:
    """Synthesise and prepare the subject in a workspace under ``tmp``."""
    video = tmp / f"{SUBJECT}.mp4"
    ws = tmp / "workspace"
    synth = _run(
        ["synth", video, "--frames", frames, "--size", size, "--seed", 0, "--motion", "dance"],
        "ptx synth",
    )
    gt = video.with_name(video.stem + "_gt") / "openpose"
    prep = _run(
        ["prepare", video, "--subject", SUBJECT, "--size", size, "--keypoints",
         f"openpose:{gt}", "--set", "mask.method=skeleton", "--workspace", ws],
        "ptx prepare",
    )  # fmt: skip
    return {
        "name": SUBJECT,
        "frames": frames,
        "size": size,
        "workspace": str(ws),
        "synth_seconds": synth,
        "prepare_seconds": prep,
    }
