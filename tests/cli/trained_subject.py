"""The trained synthetic subject the CLI tests share (see tests/cli/conftest.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.run import train

FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}
TRAIN = {
    "steps": 4, "uv_warmup_steps": 0, "size": 16, "batch": 1, "checkpoint_every": 2,
    "eval_every": 0, "sample_every": 0, "eval_frames": 2, "tensorboard": False,
    "device": "cpu",
}  # fmt: skip


@dataclass
class Ctx:
    ws: Path
    video: Path
    tmp: Path
    store: VideoStore
    run: Path

    def chunk(self, array: str, index: int) -> Path:
        """The file of time chunk ``index`` of an array chunked along time."""
        arr = self.store.open_array(array)
        key = arr.metadata.encode_chunk_key((index,) + (0,) * (arr.ndim - 1))
        return self.store.zarr_path / array / key


def prepare_args(ctx: Ctx) -> list:
    """The `ptx prepare` options the base subject was prepared with."""
    return [
        "prepare", ctx.video, "--subject", "alice", "--size", "32",
        "--keypoints", f"openpose:{gt_dir_for(ctx.video) / 'openpose'}",
        *(x for k, v in FAST_FIT.items() for x in ("--set", f"fit.{k}={v}")),
        "--workspace", ctx.ws,
    ]  # fmt: skip


def build(root: Path) -> tuple[Path, Path]:
    """A synthetic subject 'alice' prepared at 32 px (8 frames a chunk) and trained for 4
    steps (checkpoints at steps 2 and 4): (workspace, video)."""
    video = root / "alice.mp4"
    synthesize(video, SynthConfig("dance", frames=24, size=64, seed=3))
    os.environ["PTX_CHUNK_FRAMES"] = "8"
    try:
        ws = Workspace(root / "ws")
        over = {
            "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
            "crop": {"size": 32},
            "fit": dict(FAST_FIT),
        }
        prepare_video(video, ws, "alice", over)
        train(ws, "alice", "tiny", dict(TRAIN))
    finally:
        del os.environ["PTX_CHUNK_FRAMES"]
    return root / "ws", video
