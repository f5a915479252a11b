"""ren through the CLI on a prepared synthetic subject filmed in landscape: trains with an
unpaired bank, resumes bit for bit, renders its held-out tail, streams in chunks exactly as
at once (the lookahead crosses chunk boundaries), transfers over a new background and with
alpha, and scores; a bad --unpaired name is one line."""

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
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.io.video import probe_video
from ptx.perform.render import StoreConditions, load_model, render_conditions, resolve_run
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.run import train

pytestmark = pytest.mark.slow
FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}
SETTINGS = {
    "size": 32, "width": 4, "n_down": 2, "n_res": 1, "d_width": 4, "d_layers": 2,
    "d_scales": 1, "coarse_steps": 2, "steps": 2, "stage2_steps": 2, "checkpoint_every": 2,
    "device": "cpu", "threads": 1, "tensorboard": False,
}  # fmt: skip


@dataclass
class Prepared:
    ws: Workspace
    source: Path
    root: Path


def _prepare(ws: Workspace, video: Path, subject: str, until: str | None = None) -> None:
    kp = import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}")
    prepare_video(video, ws, subject, {"keypoints": kp, "crop": {"size": 128},
                                       "fit": dict(FAST_FIT)}, until=until)  # fmt: skip


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Prepared:
    with pytest.MonkeyPatch.context() as mp:
        root = tmp_path_factory.mktemp("ren")
        mp.setenv("PTX_WEIGHTS", str(root / "no-weights"))
        ws = Workspace(root / "ws")
        target = root / "alice.mp4"
        synthesize(target, SynthConfig("dance", frames=24, size=64, seed=3, width=96, height=64))
        _prepare(ws, target, "alice")
        other = root / "bob.mp4"
        synthesize(other, SynthConfig("walk", frames=16, size=64, seed=8))
        _prepare(ws, other, "bob", until="crop")  # the bank needs keypoints only
        source = root / "wave.mp4"
        synthesize(source, SynthConfig("wave", frames=12, size=64, seed=5))
        yield Prepared(ws, source, root)


def _sets() -> list[str]:
    return [a for k, v in SETTINGS.items() for a in ("--set", f"{k}={v}")]


def test_train_resume_render_stream_transfer_score(prepared, cli, monkeypatch, tmp_path):
    monkeypatch.setenv("PTX_WEIGHTS", str(prepared.root / "no-weights"))
    ws, w = prepared.ws, ["--workspace", prepared.ws.root]
    done = cli("train", "--subject", "alice", "--method", "ren", "--unpaired", "bob", *_sets(), *w)
    assert done.code == 0, done.err
    assert "Trained alice (ren)" in done.out
    straight = resolve_run(ws, "alice", method="ren")
    cut = train(ws, "alice", overrides={**SETTINGS, "unpaired": "bob"}, method="ren", stop_at=3)
    resumed = cli("train", "--subject", "alice", "--method", "ren", "--resume", *w)
    assert resumed.code == 0, resumed.err
    assert "Resumed from step-000000003.pt" in resumed.err
    a = load_checkpoint(straight / "checkpoints" / "step-000000006.pt")
    b = load_checkpoint(cut.run_dir / "checkpoints" / "step-000000006.pt")
    assert a["method"] == "ren" and same(a["trainer"], b["trainer"])
    assert a["trainer"]["bank"] is not None

    held = prepared.root / "ren-held.mp4"
    res = cli("render", "--subject", "alice", "--method", "ren", "-o", held, *w)
    assert res.code == 0, res.err
    info = probe_video(held)
    assert (info.frame_count, info.width) == (2, 32) and info.height < 32

    # streaming: the window reads 4 frames ahead; chunks of any size give the same frames
    model = load_model(straight, "cpu")
    assert model.window.after == 4
    store = VideoStore(ws, ws.subject("alice")["videos"][0])
    whole = np.concatenate(
        [c.rgb for c in render_conditions(model, StoreConditions(store), batch=64)]
    )
    for batch in (1, 3):
        parts = [c.rgb for c in render_conditions(model, StoreConditions(store), batch=batch)]
        assert np.array_equal(np.concatenate(parts), whole), batch

    gt = gt_dir_for(prepared.source) / "openpose"
    fit = [a for k, v in FAST_FIT.items() for a in ("--set", f"fit.{k}={v}")]
    src = ["--source", prepared.source, "--target", "alice", "--method", "ren",
           "--source-keypoints", f"openpose:{gt}", *fit, *w]  # fmt: skip
    bg = tmp_path / "bg.png"
    cv2.imwrite(str(bg), np.full((40, 60, 3), (255, 0, 0), np.uint8))  # blue (BGR)
    out = prepared.root / "wave-as-alice-ren.mp4"
    moved = cli("transfer", *src, "--background", bg, "-o", out)
    assert moved.code == 0, moved.err
    assert probe_video(out).frame_count == 12
    folder = prepared.root / "wave-alpha"
    alpha = cli("transfer", *src, "--alpha", "-o", folder)
    assert alpha.code == 0, alpha.err
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == 12
    rgba = cv2.imread(str(pngs[0]), cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4 and rgba[..., 3].min() < rgba[..., 3].max()

    report = prepared.root / "ren-score.json"
    scored = cli("score", "--subject", "alice", "--method", "ren", "--json", report, *w)
    assert scored.code == 0, scored.err
    data = json.loads(report.read_text())
    assert data["method"] == "ren" and 5.0 < data["results"]["psnr"] < 60.0
    assert data["results"]["temporal_error"] is not None


def test_unknown_unpaired_subject_is_one_line(prepared, cli):
    w = ["--workspace", prepared.ws.root]
    res = cli("train", "--subject", "alice", "--method", "ren", "--unpaired", "nobody",
              *_sets(), *w)  # fmt: skip
    assert res.code == 2 and "--unpaired nobody" in res.err and "bob" in res.err
    assert len(res.err.strip().splitlines()) == 1
