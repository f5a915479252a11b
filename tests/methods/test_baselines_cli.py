"""The two baselines through the CLI on a prepared synthetic subject: each trains, resumes
bit for bit, renders its held-out tail, transfers a motion and scores. The subject is
filmed in landscape, so every method works in a frame that is not square."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from toy_subjects import same  # same folder (pytest puts it on sys.path)

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.checkpoints import load_checkpoint
from ptx.cache.workspace import Workspace
from ptx.io.video import probe_video
from ptx.perform.render import resolve_run
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.run import train

pytestmark = pytest.mark.slow
FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}
SETTINGS = {
    "tna": {"uv_width": 4, "uv_down": 2, "uv_res": 1, "tex_size": 8, "uv_warmup_steps": 2},
    "edn": {"width": 4, "n_down": 2, "n_res": 1, "d_width": 4, "d_layers": 2,
            "face_width": 4, "face_down": 1, "face_res": 1, "face_d_layers": 1,
            "face_steps": 2},
}  # fmt: skip
COMMON = {"size": 32, "steps": 4, "checkpoint_every": 2, "device": "cpu", "threads": 1,
          "tensorboard": False}  # fmt: skip


@dataclass
class Prepared:
    ws: Workspace
    source: Path
    root: Path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("baselines")
        mp.setenv("PTX_WEIGHTS", str(root / "no-weights"))
        ws = Workspace(root / "ws")
        target = root / "alice.mp4"
        synthesize(target, SynthConfig("dance", frames=24, size=64, seed=3, width=96, height=64))
        kp = import_overrides(f"openpose:{gt_dir_for(target) / 'openpose'}")
        prepare_video(target, ws, "alice", {"keypoints": kp, "crop": {"size": 128},
                                            "fit": dict(FAST_FIT)})  # fmt: skip
        source = root / "wave.mp4"
        synthesize(source, SynthConfig("wave", frames=12, size=64, seed=5))
        yield Prepared(ws, source, root)


def _sets(method: str) -> list[str]:
    out = []
    for k, v in {**COMMON, **SETTINGS[method]}.items():
        out += ["--set", f"{k}={v}"]
    return out


@pytest.mark.parametrize("method", ["tna", "edn"])
def test_train_resume_render_transfer_score(prepared, cli, method, monkeypatch):
    monkeypatch.setenv("PTX_WEIGHTS", str(prepared.root / "no-weights"))
    ws, w = prepared.ws, ["--workspace", prepared.ws.root]
    done = cli("train", "--subject", "alice", "--method", method, *_sets(method), *w)
    assert done.code == 0, done.err
    assert f"Trained alice ({method})" in done.out
    straight = resolve_run(ws, "alice", method=method)
    cut = train(ws, "alice", overrides={**COMMON, **SETTINGS[method]}, method=method, stop_at=3)
    resumed = cli("train", "--subject", "alice", "--method", method, "--resume", *w)
    assert resumed.code == 0, resumed.err
    assert "Resumed from step-000000003.pt" in resumed.err
    a = load_checkpoint(straight / "checkpoints" / "step-000000006.pt")
    b = load_checkpoint(cut.run_dir / "checkpoints" / "step-000000006.pt")
    assert a["method"] == method and same(a["trainer"], b["trainer"])

    held = prepared.root / f"{method}-held.mp4"
    res = cli("render", "--subject", "alice", "--method", method, "-o", held, *w)
    assert res.code == 0, res.err
    info = probe_video(held)
    # 10% of 24 frames, at the model's frame: 32 px wide, the landscape clip's aspect
    assert (info.frame_count, info.width) == (2, 32) and info.height < 32

    out = prepared.root / f"wave-as-alice-{method}.mp4"
    gt = gt_dir_for(prepared.source) / "openpose"
    fit = [a for k, v in FAST_FIT.items() for a in ("--set", f"fit.{k}={v}")]
    moved = cli("transfer", "--source", prepared.source, "--target", "alice", "--method",
                method, "-o", out, "--source-keypoints", f"openpose:{gt}", *fit, *w)  # fmt: skip
    assert moved.code == 0, moved.err
    moved_info = probe_video(out)
    assert moved_info.frame_count == 12 and (moved_info.width, moved_info.height) == (
        info.width, info.height,
    )  # fmt: skip

    report = prepared.root / f"{method}-score.json"
    scored = cli("score", "--subject", "alice", "--method", method, "--json", report, *w)
    assert scored.code == 0, scored.err
    data = json.loads(report.read_text())
    assert data["method"] == method and 5.0 < data["results"]["psnr"] < 60.0
    assert data["results"]["temporal_error"] is not None


def test_edn_refuses_another_background_in_one_line(prepared, cli, tmp_path):
    ws, w = prepared.ws, ["--workspace", prepared.ws.root]
    if not list((ws.root / "runs" / "alice").glob("edn/*/checkpoints/last")):
        train(ws, "alice", overrides={**COMMON, **SETTINGS["edn"]}, method="edn")
    bg = tmp_path / "bg.png"
    cv2.imwrite(str(bg), np.zeros((32, 32, 3), np.uint8))
    gt = gt_dir_for(prepared.source) / "openpose"
    res = cli("transfer", "--source", prepared.source, "--target", "alice", "--method", "edn",
              "--background", bg, "--source-keypoints", f"openpose:{gt}", *w)  # fmt: skip
    assert res.code == 2 and "whole frames" in res.err
    assert len(res.err.strip().splitlines()) == 1
