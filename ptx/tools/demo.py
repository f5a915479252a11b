"""`ptx demo`: the whole job on subjects ptx generates itself, with nothing downloaded.

A synthetic target (dancing) and a different synthetic source (another person, another
motion) are rendered with ``ptx synth``, both are prepared (keypoints imported from their
own ground truth, as a user with OpenPose output would), the target's renderer is trained
with the ``tiny`` preset, and the source's motion is transferred to it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.perform.transfer import TransferResult, transfer
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.pipeline.stage import NullReporter
from ptx.tools.inspect import contact_sheet, write_png
from ptx.training.run import train

SIZE = 128
"""Side of the generated videos and the canonical frames."""


@dataclass
class DemoResult:
    target_video: Path
    source_video: Path
    transfer: TransferResult
    sheet: Path
    heldout_psnr: float | None
    initial_psnr: float | None
    static_psnr: float | None


def _prepare(ws: Workspace, video: Path, subject: str, make_reporter: Callable) -> str:
    keypoints = import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}")
    overrides = {"keypoints": keypoints, "crop": {"size": SIZE}}
    with make_reporter() as reporter:
        return prepare_video(video, ws, subject, overrides, reporter=reporter).video_id


def run_demo(
    ws: Workspace,
    steps: int = 300,
    make_reporter: Callable[[], Any] | None = None,
    train_reporter: Any = None,
) -> DemoResult:
    """Synthesize, prepare, train and transfer (see the module docstring).

    ``make_reporter()`` gives a context-managed progress reporter for each phase."""
    make_reporter = make_reporter or (lambda: contextlib.nullcontext(NullReporter()))
    ws.ensure()
    out = ws.root / "outputs" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    target = out / "target-dance.mp4"
    source = out / "source-wave.mp4"
    if not target.is_file():
        synthesize(target, SynthConfig(motion="dance", frames=120, size=SIZE, seed=1))
    if not source.is_file():
        synthesize(source, SynthConfig(motion="wave", frames=75, size=SIZE, seed=7))
    vid = _prepare(ws, target, "demo-target", make_reporter)
    _prepare(ws, source, "demo-source", make_reporter)
    trained = train(ws, "demo-target", "tiny", {"steps": steps}, reporter=train_reporter)
    with make_reporter() as reporter:
        result = transfer(
            ws, source, "demo-target", out / "source-as-target.mp4", side=True,
            output_size=256, reporter=reporter,
        )  # fmt: skip
    sheet = write_png(
        out / "target-contact-sheet.png", contact_sheet(VideoStore(ws, vid), n_frames=8)
    )
    initial = trained.initial or {}
    return DemoResult(
        target, source, result, sheet,
        trained.final.get("psnr"), initial.get("psnr"), trained.final.get("psnr_static"),
    )  # fmt: skip
