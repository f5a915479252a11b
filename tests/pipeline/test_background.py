"""The background stage: exact medians, recovery behind a moving occluder, honest reporting
of never-seen pixels and camera motion, and a resumable stage."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.pipeline import registry
from ptx.pipeline.background import (
    BackgroundConfig,
    BackgroundStage,
    background_panel,
    block_size,
    estimate_background,
    global_shift,
)
from ptx.pipeline.background_median import block_median, weighted_median
from ptx.pipeline.runner import Interrupted, prepare_video
from ptx.pipeline.stage import SOURCE, NullReporter, Stage, StageContext


def texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth multi-scale colour texture, uint8 (size, size, 3) in 10..245."""
    img = np.zeros((size, size, 3), np.float32)
    for s in (2, 4, 8, 16):
        noise = rng.normal(0, 1, (size // s + 2, size // s + 2, 3)).astype(np.float32)
        img += cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)[:size, :size] * s**0.5
    return ((img - img.min()) / (img.max() - img.min()) * 235 + 10).astype(np.uint8)


def scene(
    t: int = 48, size: int = 64, seed: int = 0, static_patch: bool = False, sweep: float = 0.6
):
    """A textured static background, a red occluder sweeping left-right over ``sweep`` of
    the width (its mask is 255 inside), noise sigma 2. Returns frames (t, size, size, 3),
    mask (t, size, size), the true background; with ``static_patch`` a square that never
    moves hides the top-left."""
    rng = np.random.default_rng(seed)
    bg = texture(size, rng)
    frames = np.empty((t, size, size, 3), np.uint8)
    mask = np.zeros((t, size, size), np.uint8)
    for i in range(t):
        img = bg.astype(np.float32) + rng.normal(0, 2, bg.shape)
        m = np.zeros((size, size), np.uint8)
        cx = int(size * (0.5 + sweep * 0.5 * np.sin(2 * np.pi * i / t)))
        cv2.ellipse(m, (cx, size // 2), (size // 9, size // 3), 0, 0, 360, 255, -1)
        if static_patch:
            m[: size // 4, : size // 4] = 255
        img[m > 0] = (220, 30, 40)
        frames[i] = np.clip(img, 0, 255)
        mask[i] = m
    return frames, mask, bg


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    err = (a.astype(np.float64) - b) ** 2
    return float(10 * np.log10(255**2 / max(err.mean(), 1e-12)))


def blocks(arr: np.ndarray, n: int):
    return (arr[i : i + n] for i in range(0, len(arr), n))


# --- the median kernels -----------------------------------------------------------------


def test_block_median_is_the_exact_masked_median():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (9, 5, 7, 3), dtype=np.uint8)
    visible = rng.random((9, 5, 7)) < 0.6
    visible[:, 0, 0] = False  # never seen
    visible[:, 0, 1] = np.arange(9) < 4  # an even count
    med, count = block_median(frames, visible)
    for y in range(5):
        for x in range(7):
            assert count[y, x] == visible[:, y, x].sum()
            samples = frames[visible[:, y, x], y, x].astype(np.float64)
            want = np.floor(np.median(samples, 0) + 0.5) if len(samples) else np.zeros(3)
            np.testing.assert_array_equal(med[y, x], want)


def test_weighted_median_equals_the_median_of_the_repeated_values():
    rng = np.random.default_rng(2)
    values = rng.integers(0, 256, (6, 4, 5, 3), dtype=np.uint8)
    weights = rng.integers(0, 5, (6, 4, 5)).astype(np.uint16)
    weights[:, 0, 0] = 0
    med, total = weighted_median(values, weights)
    np.testing.assert_array_equal(total, weights.sum(0))
    for y in range(4):
        for x in range(5):
            samples = np.repeat(values[:, y, x].astype(np.float64), weights[:, y, x], axis=0)
            want = np.floor(np.median(samples, 0) + 0.5) if len(samples) else np.zeros(3)
            np.testing.assert_array_equal(med[y, x], want)


# --- the estimate -------------------------------------------------------------------------


def test_background_behind_a_moving_occluder_is_recovered():
    frames, mask, truth = scene()
    bg, seen, report = estimate_background(blocks(frames, 16), blocks(mask, 16))
    assert bg.shape == truth.shape and bg.dtype == np.uint8
    assert (seen > 0).all() and report.never_seen_pixels == 0
    assert psnr(bg, truth) >= 40  # the occluder's red never leaks in
    assert report.warnings == []
    assert report.max_consecutive_shift < 0.5 and report.max_drift_shift < 0.5


def test_unmasked_halo_is_excluded_by_the_dilation():
    frames, mask, truth = scene(size=96, sweep=0.1)  # an occluder that barely moves
    halo = np.stack([cv2.dilate(m, np.ones((5, 5), np.uint8)) for m in mask])
    frames[(halo > 0) & (mask == 0)] = (0, 255, 0)  # a 2 px rim the mask misses
    bg, seen, _ = estimate_background(blocks(frames, 16), blocks(mask, 16))
    bare, _, _ = estimate_background(
        blocks(frames, 16), blocks(mask, 16), BackgroundConfig(dilate=0.0)
    )
    ok = seen > 0  # the dilated estimate sees fewer pixels; compare on those
    assert psnr(bg[ok], truth[ok]) >= 40 > psnr(bare[ok], truth[ok]) + 5


def test_never_seen_pixels_are_counted_inpainted_and_warned():
    frames, mask, truth = scene(static_patch=True)
    bg, seen, report = estimate_background(blocks(frames, 16), blocks(mask, 16))
    hidden = np.zeros(seen.shape, bool)
    hidden[:16, :16] = True
    assert (seen[hidden] == 0).all()  # a dilated 16x16 patch: at least those pixels
    assert report.never_seen_pixels == int((seen == 0).sum()) >= 256
    assert report.never_seen_fraction == pytest.approx(report.never_seen_pixels / 64**2, 1e-4)
    assert any("hidden by the person in every frame" in w for w in report.warnings)
    assert psnr(bg[seen > 0], truth[seen > 0]) >= 35
    assert bg[hidden].mean() > 40  # inpainted from the surroundings, not left black


def test_moving_camera_and_changing_light_are_warned():
    rng = np.random.default_rng(3)
    wide = texture(128, rng)
    pan = np.stack([wide[20:84, 10 + i : 74 + i] for i in range(32)])  # 1 px per frame
    empty = np.zeros(pan.shape[:3], np.uint8)
    _, _, report = estimate_background(blocks(pan, 16), blocks(empty, 16))
    assert report.max_span_shift > 8
    assert any("camera seems to move" in w for w in report.warnings)

    still = np.repeat(wide[None, :64, :64], 32, 0)
    still[16:] = np.clip(still[16:].astype(int) + 60, 0, 255)
    _, _, report = estimate_background(blocks(still, 16), blocks(empty, 16))
    assert report.max_change > 20
    assert any("background changes" in w for w in report.warnings)


def test_global_shift_sees_translation_but_not_local_change():
    rng = np.random.default_rng(4)
    wide = texture(160, rng)
    a = wide[16:144, 16:144]
    assert global_shift(a, wide[13:141, 19:147]) == pytest.approx(np.hypot(3, 3), abs=0.3)
    changed = a.copy()
    changed[40:90, 50:80] = 255  # something appears: no camera motion
    assert global_shift(a, changed) == 0.0


def test_block_size_is_bounded():
    cfg = BackgroundConfig()
    assert block_size(100, 16, cfg) == 64
    assert block_size(40_000, 16, cfg) == 240  # 40000 / 128 blocks, capped below 256
    assert block_size(100, 16, BackgroundConfig(block_frames=10)) == 10


def test_bad_mask_shape_says_what_was_expected():
    frames, mask, _ = scene(t=4)
    with pytest.raises(Exception, match=r"mask must be uint8 \(4, 64, 64\)"):
        estimate_background([frames], [mask[:, :32]])


def test_panel_marks_never_seen_pixels():
    bg = np.full((32, 32, 3), 200, np.uint8)
    seen = np.ones((32, 32), np.int32)
    seen[:8, :8] = 0
    panel = background_panel(bg, seen, 64)
    assert panel.shape == (64, 64, 3) and panel.dtype == np.uint8
    assert (panel[:16, :16] != 200).any() and (panel[40:, 40:] == 200).all()


# --- the synthetic subject (ptx synth) -------------------------------------------------


def test_synthetic_subject_background_reaches_35_db():
    synth = pytest.importorskip("ptx.body.synth")
    subject = synth.synth_subject(synth.SynthConfig(frames=32, size=128))
    bg, seen, report = estimate_background(blocks(subject.frames, 16), blocks(subject.mask, 16))
    ok = seen > 0
    assert psnr(bg[ok], subject.background[ok]) >= 35
    assert report.never_seen_pixels == int((~ok).sum()) > 0  # the feet never leave the floor
    warned = any("hidden by the person" in w for w in report.warnings)
    assert warned == (report.never_seen_fraction > BackgroundConfig().warn_unseen)


@pytest.mark.slow
def test_prepared_synthetic_video_background_reaches_35_db(tmp_path):
    """Through the real pipeline: H.264, MediaPipe keypoints and mask, the crop."""
    synth = pytest.importorskip("ptx.body.synth")
    from ptx.pipeline.crop import CropBox, crop_frame

    video = tmp_path / "subject.mp4"
    synth.synthesize(video, synth.SynthConfig(frames=40, size=256))
    saved = dict(registry.STAGES)
    keep = ("extract", "keypoints", "crop", "mask", "background")
    try:
        registry.STAGES.clear()
        registry.STAGES.update({k: saved[k] for k in keep})
        res = prepare_video(video, Workspace(tmp_path / "ws"), "s", {"crop": {"size": 128}})
    finally:
        registry.STAGES.clear()
        registry.STAGES.update(saved)
    store = VideoStore(Workspace(tmp_path / "ws"), res.video_id)
    truth = crop_frame(
        synth.load_ground_truth(video)["background"], CropBox.from_meta(store.meta("crop"))
    )
    bg, seen = store.read("background"), store.read("background_seen")
    ok = seen > 0
    assert ok.mean() > 0.8
    assert psnr(bg[ok], truth[ok]) >= 35
    assert store.meta("background")["never_seen_pixels"] == int((~ok).sum())


# --- the stage, through the runner -------------------------------------------------------


@dataclass
class SceneConfig:
    frames: int = 40
    """Frames of the generated scene."""


class SceneStage(Stage):
    """Stands in for crop + mask: writes the scene's frames and mask."""

    name = "scene"
    Config = SceneConfig
    inputs = (SOURCE,)
    outputs = ("frames", "mask")

    def run(self, ctx: StageContext) -> None:
        frames, mask, _ = scene(t=ctx.config.frames)
        ctx.create_array("frames", frames.shape, np.uint8)
        ctx.create_array("mask", mask.shape, np.uint8)
        for i in ctx.pending(1):
            ctx.store.write("frames", 0, frames)
            ctx.store.write("mask", 0, mask)
            ctx.commit(i, frames=len(frames))


@pytest.fixture
def stages():
    saved = dict(registry.STAGES)
    registry.STAGES.clear()
    registry.STAGES.update({"scene": SceneStage, "background": BackgroundStage})
    yield
    registry.STAGES.clear()
    registry.STAGES.update(saved)


class StopAfter(NullReporter):
    """Interrupts ``stage`` after its first committed chunk."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def advance(self, stage: str, frames: int) -> None:
        if stage == self.stage:
            raise KeyboardInterrupt


def test_stage_resumes_to_the_same_result_and_reports(stages, clip, workspace, monkeypatch):
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "8")
    video = clip(frames=8)
    settings = {"background": {"block_frames": 16}}
    with pytest.raises(Interrupted):
        prepare_video(video, workspace, "a", settings, reporter=StopAfter("background"))
    result = prepare_video(video, workspace, "a", settings)
    assert [o.status for o in result.outcomes] == ["cached", "resumed"]
    store = VideoStore(workspace, result.video_id)
    rec = store.record("background")
    assert rec.resumed_chunks == 1 and rec.n_chunks == 3  # 40 frames in blocks of 16

    frames, mask, truth = scene(t=40)
    want, want_seen, _ = estimate_background(blocks(frames, 16), blocks(mask, 16))
    np.testing.assert_array_equal(store.read("background"), want)
    np.testing.assert_array_equal(store.read("background_seen"), want_seen)
    meta = store.meta("background")
    assert meta["never_seen_fraction"] == 0.0 and meta["frames"] == 40
    assert psnr(want, truth) >= 40
    again = prepare_video(video, workspace, "a", settings)
    assert [o.status for o in again.outcomes] == ["cached", "cached"]
