"""2D pose normalisation maps the source's ankle range and heights onto the target's."""

from __future__ import annotations

import numpy as np

from ptx.perform.retarget import ANKLES, ground_stats, normalize_2d


def walker(t: int, far_y: float, near_y: float, height_far: float, height_near: float, x0: float):
    """A stick figure walking from far to near and back: (t, 25, 3) keypoints."""
    rng = np.random.default_rng(0)
    phase = (1 - np.cos(np.linspace(0, 2 * np.pi, t))) / 2
    ank_y = far_y + phase * (near_y - far_y)
    height = height_far + phase * (height_near - height_far)
    kp = np.zeros((t, 25, 3), np.float32)
    rel = rng.uniform(0.05, 1.0, size=25)  # each joint's height fraction above the ankles
    rel[list(ANKLES)] = 0.0
    rel[0] = 1.0  # the nose is the top
    kp[..., 1] = ank_y[:, None] - rel[None] * height[:, None]
    kp[..., 0] = x0 + rng.normal(0, 5, size=25)[None] * height[:, None] / 100
    kp[..., 2] = 1.0
    kp[:, 15:19, 2] = 0.0  # eyes/ears unseen: height comes from the nose
    return kp


def test_source_ankle_range_maps_onto_target_range():
    src = walker(120, far_y=300, near_y=420, height_far=150, height_near=260, x0=200)
    tgt = walker(90, far_y=200, near_y=240, height_far=100, height_near=120, x0=320)
    out = normalize_2d(src, tgt)
    got, want = ground_stats(out), ground_stats(tgt)
    assert abs(got.far_y - want.far_y) < 1.0
    assert abs(got.near_y - want.near_y) < 1.0
    assert abs(got.far_height - want.far_height) < 0.02 * want.far_height
    assert abs(got.near_height - want.near_height) < 0.02 * want.near_height
    assert abs(got.center_x - want.center_x) < 1.0


def test_identity_when_source_is_target():
    kp = walker(60, 300, 400, 150, 250, 200)
    out = normalize_2d(kp, kp)
    seen = kp[..., 2] > 0
    assert np.abs(out[..., :2] - kp[..., :2])[seen].max() < 1e-3
    assert (out[~seen] == 0).all()
