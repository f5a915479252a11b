"""The flow stage: the t -> t-1 convention, accuracy on known motion, validity where the
motion is not observable, and a resumable stage."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from ptx.cache.store import VideoStore
from ptx.nn.warp import warp_backward_np
from ptx.pipeline import registry
from ptx.pipeline.flow import (
    FlowConfig,
    FlowStage,
    compute_flow,
    fb_valid,
    flow_panel,
    flow_sequence,
    to_half,
    to_single,
)
from ptx.pipeline.runner import Interrupted, prepare_video
from ptx.pipeline.stage import SOURCE, NullReporter, Stage, StageContext


def warp(prev: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Frame t-1 brought to frame t by a stored flow (the one warp, ``ptx.nn.warp``)."""
    return warp_backward_np(prev, to_single(flow))[0]


def texture(size: int, seed: int) -> np.ndarray:
    """A smooth multi-scale colour texture, uint8 (size, size, 3)."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.float32)
    for s in (2, 4, 8, 16):
        noise = rng.normal(0, 1, (size // s + 2, size // s + 2, 3)).astype(np.float32)
        img += cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC)[:size, :size] * s**0.5
    return ((img - img.min()) / (img.max() - img.min()) * 235 + 10).astype(np.uint8)


def translate(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``out(p) = img(p - (dx, dy))``: the content moves by (dx, dy)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    h, w = img.shape[:2]
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def moving_square(t: int = 10, size: int = 96, step=(3, 2)) -> tuple[np.ndarray, np.ndarray]:
    """A textured square moving by ``step`` px per frame over a static textured background.
    Returns frames uint8 (t, size, size, 3) and the square's mask bool (t, size, size)."""
    bg, obj = texture(size, 1), texture(32, 2)
    frames = np.repeat(bg[None], t, 0)
    inside = np.zeros((t, size, size), bool)
    for i in range(t):
        x, y = 16 + step[0] * i, 20 + step[1] * i
        frames[i, y : y + 32, x : x + 32] = obj
        inside[i, y : y + 32, x : x + 32] = True
    return frames, inside


def test_translation_is_recovered_within_half_a_pixel():
    big = texture(160, 0)
    prev = big[16:144, 16:144]
    cur = translate(big, 3.4, -2.2)[16:144, 16:144]
    flow, valid = compute_flow(prev, cur)
    assert flow.shape == (128, 128, 2) and flow.dtype == np.float32
    error = np.hypot(flow[..., 0] + 3.4, flow[..., 1] - 2.2)  # frame t -> t-1 moves back
    assert error.mean() < 0.5
    assert valid.mean() > 0.9


def test_warp_follows_the_stored_convention():
    prev = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)
    flow = np.zeros((5, 6, 2), np.float32)
    flow[..., 0] = 1  # every pixel of frame t came from one pixel to its right
    out = warp(prev, flow)
    np.testing.assert_array_equal(out[:, :-1], prev[:, 1:])


def test_warping_the_previous_frame_reproduces_the_current_on_valid_pixels():
    frames, inside = moving_square()
    flow, valid = compute_flow(frames[4], frames[5])
    error = np.abs(warp(frames[4], flow).astype(float) - frames[5]).mean(-1)
    assert error[valid].mean() < 2.0 < np.abs(frames[4].astype(float) - frames[5]).mean()
    assert valid.mean() > 0.8
    assert np.abs(flow[inside[5] & valid] + (3, 2)).mean() < 0.5  # the square's motion


def test_half_precision_conversion_matches_numpy():
    rng = np.random.default_rng(5)
    flow = (rng.normal(0, 3, (16, 16, 2)) * rng.random((16, 16, 1)) ** 8).astype(np.float32)
    half = to_half(flow)
    assert half.dtype == np.float16 and half.shape == flow.shape
    np.testing.assert_array_equal(half, flow.astype(np.float16))
    np.testing.assert_array_equal(to_single(half), half.astype(np.float32))


def test_inconsistent_or_outgoing_flow_is_invalid():
    fwd = np.zeros((8, 10, 2), np.float32)
    fwd[..., 0] = 2.0
    assert fb_valid(fwd, -fwd)[:, :8].all()
    assert not fb_valid(fwd, -fwd)[:, 8:].any()  # lands right of frame t-1
    assert not fb_valid(fwd, np.zeros_like(fwd)).any()  # the way back disagrees


def test_flow_panel_shows_motion_and_hides_invalid():
    flow = np.zeros((16, 16, 2), np.float32)
    flow[:, 8:, 0] = 3
    valid = np.ones((16, 16), bool)
    valid[:4] = False
    panel = flow_panel(flow, valid, 32)
    assert panel.shape == (32, 32, 3) and panel.dtype == np.uint8
    assert (panel[16:, :14] == 255).all() and panel[16:, 20:].std(-1).mean() > 20
    assert (panel[:6] < 100).all()


@dataclass
class SquareConfig:
    frames: int = 10
    """Frames of the generated clip."""


class SquareStage(Stage):
    """Stands in for crop: writes the moving-square frames."""

    name = "square"
    Config = SquareConfig
    inputs = (SOURCE,)
    outputs = ("frames",)

    def run(self, ctx: StageContext) -> None:
        frames, _ = moving_square(ctx.config.frames)
        ctx.create_array("frames", frames.shape, np.uint8)
        for i in ctx.pending(1):
            ctx.store.write("frames", 0, frames)
            ctx.commit(i, frames=len(frames))


class StopAfter(NullReporter):
    def advance(self, stage: str, frames: int) -> None:
        if stage == "flow":
            raise KeyboardInterrupt


@pytest.fixture
def stages():
    saved = dict(registry.STAGES)
    registry.STAGES.clear()
    registry.STAGES.update({"square": SquareStage, "flow": FlowStage})
    yield
    registry.STAGES.clear()
    registry.STAGES.update(saved)


def test_stage_resumes_and_stores_the_sequence(stages, clip, workspace, monkeypatch):
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    video = clip(frames=8)
    with pytest.raises(Interrupted):
        prepare_video(video, workspace, "a", reporter=StopAfter())
    result = prepare_video(video, workspace, "a")
    assert [o.status for o in result.outcomes] == ["cached", "resumed"]
    store = VideoStore(workspace, result.video_id)
    flow, valid = store.read("flow"), store.read("flow_valid")
    assert flow.dtype == np.float16 and flow.shape == (10, 96, 96, 2)
    assert valid.dtype == bool and not valid[0].any() and (flow[0] == 0).all()

    frames, _ = moving_square()
    want, want_valid = flow_sequence(frames, FlowConfig())
    # frame 4 starts a chunk: its pair (3, 4) must still be computed
    np.testing.assert_allclose(flow[1:], want[1:], atol=0.02)
    assert (valid[1:] == want_valid[1:]).mean() > 0.999
    for t in (1, 4, 9):
        error = np.abs(warp(frames[t - 1], flow[t]).astype(float) - frames[t]).mean(-1)
        assert error[valid[t]].mean() < 2.0
    meta = store.meta("flow")
    assert 0.8 < meta["valid_fraction"] <= 1.0
