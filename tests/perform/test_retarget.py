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


def dancer_in_place(t: int, ground_y: float, height: float, x0: float) -> np.ndarray:
    """A figure dancing on one spot: standing, crouching (0.65 of its height) and jumping
    (ankles up to 10% of its height off the ground, legs tucked to 0.75): (t, 25, 3)."""
    third = t // 3
    squash = np.ones(t)
    squash[third : 2 * third] = 0.65
    squash[2 * third :] = 0.75
    lift = np.zeros(t)
    lift[2 * third :] = 0.1 * height * np.abs(np.sin(np.linspace(0, 3 * np.pi, t - 2 * third)))
    kp = walker(t, ground_y, ground_y, height, height, x0)
    ankle_y = kp[:, ANKLES[0], 1].copy()
    kp[..., 1] = (
        ankle_y[:, None] - lift[:, None] - (ankle_y[:, None] - kp[..., 1]) * squash[:, None]
    )
    return kp


def figure_height(kp: np.ndarray) -> np.ndarray:
    return kp[:, list(ANKLES), 1].mean(1) - kp[:, 0, 1]


def test_crouches_and_jumps_on_one_spot_keep_one_scale():
    """Ankles moving a little up and down the picture (jumps) are not depth: a dancer on
    one spot keeps one scale, and its jumps stay jumps (scaled), on a still target and on
    one that walks."""
    src = dancer_in_place(120, ground_y=270, height=240, x0=230)
    for tgt in (walker(90, 300, 300, 200, 200, 250), walker(90, 200, 420, 100, 260, 250)):
        out = normalize_2d(src, tgt)
        ratio = figure_height(out) / figure_height(src)
        assert ratio.max() / ratio.min() < 1.01, (ratio.min(), ratio.max())
        lift_src = src[:, ANKLES[0], 1].max() - src[:, ANKLES[0], 1]
        lift_out = out[:, ANKLES[0], 1].max() - out[:, ANKLES[0], 1]
        assert np.allclose(lift_out, lift_src * ratio, atol=0.05)
        assert abs(out[:, ANKLES[0], 1].max() - ground_stats(tgt).near_y) < 1.0


def test_heights_are_the_standing_ones():
    """Crouches at the far line do not pass for distance."""
    src = walker(120, far_y=300, near_y=420, height_far=150, height_near=260, x0=200)
    crouched = src.copy()
    ankle_y = src[:, ANKLES[0], 1]
    far = np.abs(ankle_y - ankle_y.min()) < 3
    crouched[far, :, 1] = ankle_y[far, None] - (ankle_y[far, None] - src[far, :, 1]) * 0.6
    assert far.sum() >= 5 and not far.all()
    plain, bent = ground_stats(src), ground_stats(crouched)
    assert abs(bent.far_height - plain.far_height) < 0.02 * plain.far_height
