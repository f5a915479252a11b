"""Transfer, render and score on a tiny trained synthetic subject (one shared fixture)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ptx.body.synth import SynthConfig, gt_dir_for, load_ground_truth, synthesize
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.io.testclips import write_clip
from ptx.io.video import probe_video
from ptx.perform.render import render_subject
from ptx.perform.retarget_render import RetargetConditions
from ptx.perform.score import METRICS, score
from ptx.perform.transfer import transfer
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.run import train

pytestmark = pytest.mark.slow
FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}


def _overrides(video: Path) -> dict:
    return {
        "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
        "crop": {"size": 64},
        "fit": dict(FAST_FIT),
    }


@dataclass
class Trained:
    ws: Workspace
    target: Path
    source: Path
    source_overrides: dict


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Trained:
    root = tmp_path_factory.mktemp("transfer")
    ws = Workspace(root / "ws")
    target = root / "target.mp4"
    synthesize(target, SynthConfig("dance", frames=40, size=64, seed=3))
    prepare_video(target, ws, "alice", _overrides(target))
    synth_src = root / "src.mp4"
    synthesize(synth_src, SynthConfig("wave", frames=24, size=64, seed=5))
    # the same frames with a sound track, to check --keep-audio
    frames = list(load_ground_truth(synth_src)["frames"])
    source = write_clip(root / "source with audio.mp4", width=64, height=64, images=frames,
                        audio=True, lossless=False)  # fmt: skip
    train(ws, "alice", "tiny", {"steps": 6, "uv_warmup_steps": 0, "size": 32, "batch": 1,
                                "eval_every": 6, "sample_every": 6, "checkpoint_every": 6})  # fmt: skip
    return Trained(ws, target, source, _overrides(synth_src))


def test_output_video_has_source_frames_rate_size_and_audio(trained, tmp_path):
    out = tmp_path / "result.mp4"
    res = transfer(trained.ws, trained.source, "alice", out, keep_audio=True,
                   prepare_overrides=trained.source_overrides)  # fmt: skip
    info = probe_video(res.output)
    assert (info.frame_count, info.fps, info.width, info.height) == (24, 25.0, 32, 32)
    assert info.has_audio
    side = transfer(trained.ws, trained.source, "alice", tmp_path / "side.mp4", side=True,
                    output_size=64, retarget="2d", prepare_overrides=trained.source_overrides)  # fmt: skip
    sinfo = probe_video(side.output)
    assert (sinfo.width, sinfo.height, sinfo.frame_count) == (128, 64, 24)
    assert not probe_video(side.output).has_audio


def test_3d_self_transfer_keeps_the_keypoints(trained):
    store = VideoStore(trained.ws, trained.ws.subject("alice")["videos"][0])
    conds = RetargetConditions(store, store, "3d")
    truth = store.read("keypoints")
    ok = truth[..., 2] > 0.3
    err = np.linalg.norm(conds.keypoints[..., :2] - truth[..., :2], axis=-1)[ok].mean()
    assert err < 0.04 * 64, f"mean keypoint error {err:.2f} px"
    chunk = conds.chunk(0, 4, ("iuv",))
    assert chunk["iuv"].shape == (4, 64, 64, 3) and (chunk["iuv"][..., 0] > 0).any()


def test_background_image_of_another_size_is_resized_and_said(trained, tmp_path):
    import cv2

    bg = tmp_path / "beach.png"
    cv2.imwrite(str(bg), np.full((90, 120, 3), (40, 160, 220), np.uint8))
    res = transfer(trained.ws, trained.source, "alice", tmp_path / "bg.mp4", background=bg,
                   prepare_overrides=trained.source_overrides)  # fmt: skip
    assert any("resized and cut from 120x90 to 64x64" in n for n in res.notes)


def test_background_keeps_its_aspect(tmp_path):
    """A background is scaled to cover the frame and cut around its centre, not stretched:
    a wide picture with a red left third and a blue right third becomes a portrait frame
    that is all middle (green)."""
    import cv2

    from ptx.perform.transfer import load_background

    img = np.zeros((100, 300, 3), np.uint8)
    img[:, :100] = (0, 0, 255)  # BGR red
    img[:, 100:200] = (0, 255, 0)
    img[:, 200:] = (255, 0, 0)
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), img)
    notes: list[str] = []
    out = load_background(path, (64, 32), notes)
    assert out.shape == (64, 32, 3)
    assert (out[..., 1] > 200).all() and (out[..., 0] < 40).all() and (out[..., 2] < 40).all()
    assert notes == ["background wide.png resized and cut from 300x100 to 32x64"]


def test_bad_transfer_inputs(trained, tmp_path):
    with pytest.raises(InputError, match=r"has no trained run.*ptx train --subject"):
        transfer(trained.ws, trained.source, "nobody-yet", tmp_path / "x.mp4")
    with pytest.raises(InputError, match="does not exist"):
        transfer(trained.ws, trained.source, "alice", tmp_path / "missing" / "x.mp4")


def test_render_heldout_and_score_every_field(trained, tmp_path):
    path, n, fps = render_subject(trained.ws, "alice", tmp_path / "held.mp4")
    assert n == 4 and probe_video(path).frame_count == 4 and fps > 0
    res = score(trained.ws, "alice", report_dir=tmp_path / "report")
    assert set(res.results) == set(METRICS)
    for name, value in res.results.items():
        assert value is not None or res.reasons.get(name), f"{name} is null without a reason"
    assert 5 < res.results["psnr"] < 60 and 0 < res.results["ssim"] <= 1
    assert res.results["lpips"] is None and "LPIPS" in res.reasons["lpips"]
    assert (tmp_path / "report" / "challenging.png").is_file()
    assert (tmp_path / "report" / "psnr.png").is_file()


def test_score_render_rate_counts_the_rendering_alone(trained, monkeypatch):
    """Reading the real frames the metrics compare against (made 3 s slower here) is not
    part of the render frames/s ``score`` reports."""
    import time as _time

    from ptx.perform import score as score_module

    real = score_module._chw_to_hwc

    def slow(t):
        _time.sleep(3.0)
        return real(t)

    monkeypatch.setattr(score_module, "_chw_to_hwc", slow)
    res = score(trained.ws, "alice")
    assert res.results["fps"] > res.extra["frames"] / 3.0


@pytest.mark.usefixtures("perceptual_weights")
def test_score_measures_lpips_and_fid_when_their_weights_are_there(trained):
    res = score(trained.ws, "alice")
    assert res.results["lpips"] > 0 and res.results["fid"] > 0
    assert "lpips" not in res.reasons and "fid" not in res.reasons


def test_render_a_pose_sequence_from_openpose_json(trained, tmp_path):
    from ptx.io.openpose import write_openpose_frames
    from ptx.perform.retarget_render import PoseSequenceConditions

    kp = load_ground_truth(trained.source.with_name("src.mp4"))["keypoints"][:12].copy()
    kp[..., :2] *= 3.0  # as if detected on a 192 px video: normalised onto the target
    write_openpose_frames(tmp_path / "json", kp)
    path, n, _ = render_subject(
        trained.ws, "alice", tmp_path / "poses.mp4", poses=f"openpose:{tmp_path / 'json'}"
    )
    assert n == 12 and probe_video(path).frame_count == 12
    store = VideoStore(trained.ws, trained.ws.subject("alice")["videos"][0])
    conds = PoseSequenceConditions(kp, store)
    iuv = conds.chunk(0, 12, ("iuv",))["iuv"]
    body = (iuv[..., 0] > 0).mean(axis=(1, 2))
    assert (body > 0.01).all()  # every frame has a rendered body inside the 64 px frame
    with pytest.raises(InputError, match="Cannot read --poses"):
        render_subject(trained.ws, "alice", tmp_path / "x.mp4", poses="alphapose:/x")
