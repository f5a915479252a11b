"""Stage ``fit``: windows over chunks, one shape per video, reports of poor frames."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.body.synth import SynthConfig, synth_subject
from ptx.cache.records import StageRecord
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.pipeline.fit import FitStage, FitStageConfig, canonical_focal
from ptx.pipeline.stage import NullReporter, StageContext

SIZE = 96
FAST = {"rigid_iters": 25, "pose_iters": 60, "silhouette_iters": 30}


def _store(tmp_path, keypoints, mask, crop=None) -> VideoStore:
    store = VideoStore(Workspace(tmp_path / "ws"), "v")
    for name, arr in (("keypoints", keypoints), ("mask", mask)):
        store.create_array(name, arr.shape, arr.dtype)
        store.write(name, 0, arr)
    if crop is not None:
        store.write_record(StageRecord("crop", 1, "t", {}, "", {}, "c", "complete", meta=crop))
    return store


def _run(store, record=None, **cfg) -> StageRecord:
    rec = record or StageRecord("fit", 1, "t", {}, "", {}, "f")
    config = FitStageConfig(**{**FAST, **cfg})
    FitStage.check(config)  # as the runner does before any stage runs
    FitStage().run(StageContext(FitStage(), config, store, rec, None, NullReporter()))
    return rec


@pytest.mark.slow
def test_fit_stage_fits_in_windows_reports_poor_frames_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    sub = synth_subject(SynthConfig(motion="walk", frames=20, size=SIZE, seed=1))
    kp = sub.keypoints.copy()
    kp[16:18, :, :2] = np.random.default_rng(0).uniform(0, SIZE, (2, 25, 2))  # nonsense
    kp[5] = 0.0  # nobody detected
    store = _store(tmp_path, kp, sub.mask)
    rec = _run(store, window=8, context=4, shape_frames=8)
    assert rec.n_chunks == 5 and sorted(rec.chunks_done) == list(range(5))
    err = store.read("body/error")
    good = np.setdiff1d(np.arange(20), [5, 16, 17])
    assert np.nanmean(err[good]) < 0.02 * SIZE and np.isnan(err[5])
    assert (err[16:18] > 0.04 * SIZE).all()
    assert rec.meta["poor_frames"] == [16, 17]
    assert rec.meta["body"] == rec.meta["body_spec"] == "open"
    assert any("16-17" in w and "poor" in w for w in rec.warnings)
    assert any("No keypoints to fit in 1 frames (5)" in w for w in rec.warnings)
    assert store.read("body/pose").shape == (20, 24, 3)
    assert store.read("body/keypoints").shape == (20, 25, 3)
    np.testing.assert_allclose(store.read("body/camera")[:, 1:], SIZE / 2)
    np.testing.assert_allclose(store.read("body/shape"), rec.meta["betas"], rtol=1e-6)

    # resume: finished chunks stay, the remembered shape is reused
    store.write("body/pose", 0, np.full((4, 24, 3), 9.0, np.float32))
    partial = StageRecord("fit", 1, "t", {}, "", {}, "f", n_chunks=5, chunks_done=[0, 1, 2, 3])
    partial.meta["betas"] = [0.5] * 10
    _run(store, partial, window=8, context=4, shape_frames=8)
    assert (store.read("body/pose")[:4] == 9.0).all()
    np.testing.assert_allclose(store.read("body/shape"), 0.5)


def test_batches_fitted_on_threads_give_what_one_thread_gives(tmp_path, monkeypatch):
    """Windows fitted by several workers at once are written exactly as one worker writes
    them (a batch's fit does not depend on the batches beside it)."""
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    sub = synth_subject(SynthConfig(motion="walk", frames=20, size=SIZE, seed=2))
    outputs = []
    for i, workers in enumerate((1, 3)):
        store = _store(tmp_path / str(i), sub.keypoints, sub.mask)
        _run(store, window=4, context=2, shape_frames=6, batch=2, workers=workers)
        outputs.append({k: store.read(k) for k in ("body/pose", "body/transl", "body/error")})
    for name in outputs[0]:
        np.testing.assert_array_equal(outputs[0][name], outputs[1][name], err_msg=name)
    assert np.nanmean(outputs[0]["body/error"]) < 0.02 * SIZE


def test_the_focal_length_follows_the_crop(tmp_path):
    crop = {"box_x0": 10, "box_y0": 0, "box_side": 400, "size": 128}
    crop |= {"source_width": 1000, "source_height": 500}
    store = _store(tmp_path, np.zeros((2, 25, 3), np.float32), np.zeros((2, 8, 8), np.uint8), crop)
    ctx = StageContext(FitStage(), FitStageConfig(), store, StageRecord("fit", 1, "", {}, "", {}, ""), None, NullReporter())  # fmt: skip
    assert canonical_focal(ctx, 128, 0.9) == pytest.approx(0.9 * 1000 * 128 / 400)
    store.delete_record("crop")
    assert canonical_focal(ctx, 128, 0.9) == pytest.approx(0.9 * 128)


def test_bad_settings_are_refused(tmp_path):
    store = _store(tmp_path, np.zeros((2, 25, 3), np.float32), np.zeros((2, 8, 8), np.uint8))
    with pytest.raises(InputError, match="must be positive"):
        _run(store, window=0)
    with pytest.raises(InputError, match=r"fit\.device='tpu' is unknown"):
        _run(store, device="tpu")
    with pytest.raises(InputError, match="workers 0 or more"):
        _run(store, workers=-1)
