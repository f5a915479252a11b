"""D2G-Net on a portrait subject: it trains at a portrait frame, renders, scores with the
padding left out, and performs the motion of a landscape source in its own frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.checkpoints import load_checkpoint
from ptx.cache.frame import canonical_frame
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.io.video import FrameDecoder, probe_video
from ptx.perform.render import load_model, render_subject, resolve_run
from ptx.perform.retarget_render import RetargetConditions, fit_inside
from ptx.perform.score import score
from ptx.perform.transfer import transfer
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.run import train

FAST_FIT = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0, "shape_frames": 8}


def _overrides(video: Path, **crop) -> dict:
    return {
        "keypoints": import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}"),
        "crop": {"size": 64, **crop},
        "fit": dict(FAST_FIT),
    }


def test_fit_inside_maps_a_frame_into_another_whole_and_centred():
    s, off = fit_inside((64, 64), (64, 32))  # square into portrait: width decides
    assert s == 0.5 and tuple(off) == (0.0, 16.0)
    s, off = fit_inside((32, 64), (64, 32))  # landscape into portrait
    assert s == 0.5 and tuple(off) == (0.0, 24.0)
    s, off = fit_inside((64, 64), (64, 64))
    assert s == 1.0 and not off.any()


def test_a_run_refuses_frames_of_another_aspect():
    """A square run asked to render a video that was prepared again as a portrait says so
    (instead of stretching it)."""
    from types import SimpleNamespace

    from ptx.errors import InputError
    from ptx.perform.render import check_aspect

    model = SimpleNamespace(canonical=(64, 64), run_dir=Path("runs/x/d2g/20250101-000000"))
    check_aspect(model, (128, 128))  # same aspect, another size: fine
    check_aspect(model, (64, 60))  # within the tolerance
    with pytest.raises(InputError, match=r"trained on 64x64 .* these are 32x64.*--aspect 64:64"):
        check_aspect(model, (64, 32))


@pytest.fixture(scope="module")
def portrait(tmp_path_factory):
    root = tmp_path_factory.mktemp("portrait")
    ws = Workspace(root / "ws")
    target = root / "tall.mp4"
    synthesize(target, SynthConfig("dance", frames=30, width=36, height=64, seed=3))
    prepare_video(target, ws, "tall", _overrides(target))
    source = root / "wide.mp4"
    synthesize(source, SynthConfig("wave", frames=12, width=64, height=36, seed=5))
    train(ws, "tall", "tiny", {"steps": 4, "uv_warmup_steps": 0, "size": 32, "batch": 1,
                               "eval_every": 4, "sample_every": 4, "checkpoint_every": 4,
                               "tensorboard": False})  # fmt: skip
    return ws, target, source


@pytest.mark.slow
def test_d2g_trains_and_renders_at_a_portrait_frame(portrait, tmp_path):
    ws, _, _ = portrait
    store = VideoStore(ws, ws.subject("tall")["videos"][0])
    assert canonical_frame(store).shape == (64, 32)
    run = resolve_run(ws, "tall")
    model = load_model(run, "cpu")
    assert model.frame == (32, 16) and model.canonical == (64, 32)  # divisor 8: 32 x 16
    state = load_checkpoint(model.checkpoint)
    assert state["frame"] == [32, 16]
    assert tuple(state["trainer"]["generator"]["background"].shape) == (1, 3, 32, 16)
    path, n, _ = render_subject(ws, "tall", tmp_path / "held.mp4")
    info = probe_video(path)
    assert (info.width, info.height) == (16, 32) and n == 3
    res = score(ws, "tall")
    assert res.extra["frame"] == [32, 16] and res.extra["padded_fraction"] == 0.0
    assert 5 < res.results["psnr"] < 60 and res.extra["person_psnr"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["3d", "2d"])
def test_a_landscape_motion_on_a_portrait_target(portrait, tmp_path, mode):
    """The target's frame decides the output; the source's motion lands in it, on the
    target's ground line (its feet where the target's feet are)."""
    ws, _, source = portrait
    out = tmp_path / f"{mode}.mp4"
    res = transfer(ws, source, "tall", out, retarget=mode, prepare_overrides=_overrides(source))
    info = probe_video(out)
    assert res.frames == 12 and (info.width, info.height) == (16, 32)
    src_store = next(
        VideoStore(ws, v) for v in ws.video_ids() if v not in ws.subject("tall")["videos"]
    )
    assert canonical_frame(src_store).shape == (32, 64)  # the source stays landscape
    tgt_store = VideoStore(ws, ws.subject("tall")["videos"][0])
    conds = RetargetConditions(src_store, tgt_store, mode)
    got = conds.chunk(0, 12, ("poselabel", "label3d", "iuv", "keypoints"))
    assert got["poselabel"].shape == (12, 64, 32, 3) and got["iuv"].shape == (12, 64, 32, 3)
    ankles = got["keypoints"][:, [11, 14], 1].mean()
    target_ankles = tgt_store.read("keypoints")[:, [11, 14], 1].mean()
    assert abs(ankles - target_ankles) < 6.0  # on the target's ground line (64 px tall)
    assert (got["iuv"][..., 0] > 0).any(axis=(1, 2)).all()  # a body in every frame
    frames = np.stack(list(FrameDecoder(info, info.fps).frames(0, 12)))
    assert frames.shape[1:3] == (32, 16) and frames.std() > 5


@pytest.mark.slow
def test_score_leaves_the_padding_out(portrait, tmp_path):
    """The same portrait clip prepared as a square (--aspect square): black bars left and
    right. Score measures over the picture only: its PSNR is the PSNR of the frames cut to
    the picture, not of the whole padded frame."""
    from ptx.metrics import frame_scores
    from ptx.nn.arrays import resize_array
    from ptx.perform.render import StoreConditions, render_conditions

    _, target, _ = portrait
    ws = Workspace(tmp_path / "ws")
    prepare_video(target, ws, "bars", _overrides(target, aspect="square"))
    train(ws, "bars", "tiny", {"steps": 2, "uv_warmup_steps": 0, "size": 32, "batch": 1,
                               "eval_every": 0, "sample_every": 0, "tensorboard": False})  # fmt: skip
    store = VideoStore(ws, ws.subject("bars")["videos"][0])
    frame = canonical_frame(store)
    assert frame.shape == (64, 64) and frame.padded_fraction > 0.25
    res = score(ws, "bars")
    x0, y0, x1, y1 = res.extra["picture"]
    assert (y0, y1) == (0, 32) and 0 < x0 < x1 < 32
    assert abs(res.extra["padded_fraction"] - frame.padded_fraction) < 0.05
    model = load_model(resolve_run(ws, "bars"), "cpu")
    a = model.videos[0]["heldout_frames"][0]
    out = np.concatenate([c.rgb for c in render_conditions(model, StoreConditions(store, a))])
    truth = resize_array("frames", store.read("frames", a), (32, 32)).permute(0, 2, 3, 1).numpy()
    cut = frame_scores(out[:, :, x0:x1], truth[:, :, x0:x1]).summary()
    whole = frame_scores(out, truth).summary()
    assert res.results["psnr"] == pytest.approx(cut["psnr"], abs=1e-9)
    assert res.results["psnr"] != pytest.approx(whole["psnr"], abs=0.05)
