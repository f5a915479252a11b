"""Temporal clean-up: gap filling and the two smoothers."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.pipeline.smoothing import (
    clean_keypoints,
    fill_gaps,
    savgol,
    savgol_window,
    smooth_tracks,
)

FPS = 30.0


def dance(n: int = 150, k: int = 25, seed: int = 0, speed: float = 1.0) -> np.ndarray:
    """Known joint tracks float (n, k, 2): a 300 px figure whose joints swing 5-60 px at
    0.3-2 Hz (times ``speed``)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None, None] / FPS
    base = rng.uniform(100, 400, (k, 2))
    amp = rng.uniform(5, 60, (k, 2))
    freq = rng.uniform(0.3, 2.0, (k, 2)) * speed
    phase = rng.uniform(0, 2 * np.pi, (k, 2))
    xy = base + amp * np.sin(2 * np.pi * freq * t + phase)
    xy[:, 0, 1], xy[:, 11, 1] = 50.0, 350.0  # head to ankle: 300 px
    return xy


def observe(truth: np.ndarray, noise: float, drop: float, seed: int = 1):
    """Noisy keypoints float32 (n, k, 3) with ``drop`` of the joint-frames missing."""
    rng = np.random.default_rng(seed)
    kp = np.concatenate(
        [truth + rng.normal(0, noise, truth.shape), np.ones((*truth.shape[:2], 1))], -1
    )
    dropped = rng.random(truth.shape[:2]) < drop
    kp[dropped] = 0.0
    return kp.astype(np.float32), dropped


def rmse(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(-1)[where].mean()))


def test_cleanup_brings_jittery_dropped_tracks_closer_to_the_truth():
    """3 px jitter and 15% dropped joint-frames: after clean-up every frame has every
    joint, and the error is at most 0.72x the input's (measured on the frames it had;
    0.68x when written), counting the filled-in frames too."""
    truth = dance()
    noisy, dropped = observe(truth, noise=3.0, drop=0.15)
    before = rmse(noisy[..., :2], truth, ~dropped)
    out, stats = clean_keypoints(noisy, FPS, max_gap=8)
    assert (out[..., 2] > 0).all()
    assert stats.filled == dropped.sum()
    after_all = rmse(out[..., :2], truth, np.ones_like(dropped))
    assert after_all < 0.72 * before, (before, after_all)


def test_one_euro_helps_slow_joints_most():
    """On slow motion (0.1-0.6 Hz) the One-Euro option leaves at most 0.6x of the jitter
    (0.52x when written; Savitzky-Golay leaves 0.58x)."""
    truth = dance(speed=0.3)
    noisy, _ = observe(truth, noise=3.0, drop=0.0)
    before = rmse(noisy[..., :2], truth, np.ones(truth.shape[:2], bool))
    out = smooth_tracks(noisy, FPS, method="one-euro")
    assert rmse(out[..., :2], truth, np.ones(truth.shape[:2], bool)) < 0.6 * before


def test_short_gaps_are_interpolated_long_gaps_stay_missing():
    t = np.arange(40, dtype=np.float32)
    kp = np.zeros((40, 2, 3), np.float32)
    kp[:, :, 0] = 2.0 * t[:, None]  # moving at a constant speed
    kp[:, :, 1] = 7.0
    kp[:, 0, 2] = np.linspace(0.9, 0.5, 40)
    kp[:, 1, 2] = 0.8
    kp[10:13, 0] = 0.0  # 3-frame gap: filled
    kp[20:30, 1] = 0.0  # 10-frame gap: left missing
    kp[:2, 1] = 0.0  # 2 frames at the start: held
    out, filled = fill_gaps(kp, max_gap=4)
    np.testing.assert_allclose(out[10:13, 0, 0], 2.0 * t[10:13])
    assert out[11, 0, 2] == pytest.approx(min(kp[9, 0, 2], kp[13, 0, 2]))
    assert (out[20:30, 1] == 0).all()
    np.testing.assert_allclose(out[:2, 1, :2], np.tile(kp[2, 1, :2], (2, 1)))
    assert filled.sum() == 3 + 2


def test_smoothing_does_not_bridge_a_missing_stretch():
    """A joint that reappears elsewhere after a long gap is not dragged towards where it
    was (each stretch is smoothed on its own)."""
    kp = np.zeros((60, 1, 3), np.float32)
    kp[:25, 0] = (100.0, 100.0, 1.0)
    kp[35:, 0] = (300.0, 100.0, 1.0)
    for method in ("savgol", "one-euro"):
        out = smooth_tracks(kp, FPS, method=method)
        np.testing.assert_allclose(out[:25, 0, 0], 100.0, atol=1e-3)
        np.testing.assert_allclose(out[35:, 0, 0], 300.0, atol=1e-3)
        assert (out[25:35] == 0).all()


def test_savgol_window_scales_with_frame_rate():
    assert savgol_window(30.0, 0.23) == 7
    assert savgol_window(60.0, 0.23) == 15
    assert savgol_window(10.0, 0.23) == 5


@pytest.mark.parametrize(("n", "width", "order"), [(7, 7, 2), (40, 7, 2), (41, 15, 2), (9, 5, 3)])
def test_savgol_equals_scipys_interp_mode(n, width, order):
    """ptx's NumPy Savitzky-Golay (no SciPy import on the keypoints path) gives what
    SciPy's ``savgol_filter(mode="interp")`` gives, edges included."""
    from scipy.signal import savgol_filter

    x = np.random.default_rng(n).normal(size=(n, 3, 2)) * 50 + np.arange(n)[:, None, None] ** 2
    ours = savgol(x, width, order)
    theirs = savgol_filter(x, width, order, axis=0, mode="interp")
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * np.abs(theirs).max())
    assert not np.allclose(ours, x)  # it smooths


def test_savgol_refuses_an_even_or_too_wide_window():
    with pytest.raises(ValueError, match="odd width"):
        savgol(np.zeros((10, 2)), 6)
    with pytest.raises(ValueError, match="odd width"):
        savgol(np.zeros((4, 2)), 5)
