"""Challenging poses: the frames constructed to be farthest are the ones picked."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.metrics.robust import (
    MID_HIP,
    NECK,
    challenging_frames,
    nearest_pose_distances,
    normalise_poses,
)


def _pose(rng: np.random.Generator, n: int, jitter: float = 0.02) -> np.ndarray:
    """float32 (n, 25, 3): one template pose (torso length 100 px) with small jitter."""
    template = np.random.default_rng(123).uniform(-1.0, 1.0, (25, 2))
    template[NECK] = (0.0, -0.5)
    template[MID_HIP] = (0.0, 0.5)
    xy = template[None] + rng.normal(0, jitter, (n, 25, 2))
    kp = np.ones((n, 25, 3), dtype=np.float32)
    kp[..., :2] = xy * 100 + 256
    return kp


def test_normalisation_removes_translation_and_scale() -> None:
    kp = _pose(np.random.default_rng(0), 1, jitter=0.0)
    moved = kp.copy()
    moved[..., :2] = (kp[..., :2] - 256) * 1.7 + 40  # scaled and shifted person
    a, pa = normalise_poses(kp)
    b, pb = normalise_poses(moved)
    assert pa.all() and pb.all()
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_constructed_outliers_are_the_challenging_frames() -> None:
    rng = np.random.default_rng(1)
    train = _pose(rng, 200)
    held = _pose(rng, 60)
    far = [7, 19, 33, 41, 58]
    for k, i in enumerate(far):  # raise one arm further and further
        held[i, 4, :2] += (0, -100.0 * (k + 1))
        held[i, 3, :2] += (0, -50.0 * (k + 1))
    # translated and rescaled copies of training poses are not challenging
    held[10, :, :2] = (held[10, :, :2] - 256) * 2 + 100
    r = challenging_frames(held, train, m=3)
    assert list(r.indices) == [58, 41, 33]  # farthest first
    assert (np.diff(r.distances) <= 0).all()
    r10 = challenging_frames(held, train, m=10)
    assert set(far) <= set(r10.indices.tolist()) and len(r10.indices) == 10
    assert 10 not in r10.indices[:5]
    assert r10.all_distances.shape == (60,)


def test_fewer_frames_than_m_and_missing_joints() -> None:
    rng = np.random.default_rng(2)
    train = _pose(rng, 30)
    held = _pose(rng, 4)
    held[1, 4] = 0  # a missing wrist: compared on the joints present in both
    held[2, [NECK, MID_HIP]] = 0  # cannot be placed: never picked
    r = challenging_frames(held, train, m=10)
    assert sorted(r.indices.tolist()) == [0, 1, 3]
    assert np.isnan(r.all_distances[2])


def test_missing_joint_is_not_counted_as_distance() -> None:
    rng = np.random.default_rng(3)
    train = _pose(rng, 1, jitter=0.0)
    held = train.copy()
    held[0, 4, :2] += 500  # far-off wrist ...
    d_far, _ = nearest_pose_distances(held, train)
    held[0, 4, 2] = 0.0  # ... that the detector did not trust
    d_missing, nearest = nearest_pose_distances(held, train)
    assert d_far[0] > 0.5 and d_missing[0] < 1e-6 and nearest[0] == 0


def test_no_torso_anywhere_is_refused() -> None:
    kp = _pose(np.random.default_rng(4), 3)
    kp[:, [NECK, MID_HIP], 2] = 0
    with pytest.raises(InputError, match="Neck and MidHip"):
        nearest_pose_distances(kp, kp)


def test_matches_brute_force_and_is_fast() -> None:
    rng = np.random.default_rng(5)
    train = _pose(rng, 4000, jitter=0.2)
    held = _pose(rng, 400, jitter=0.2)
    drop = rng.random((4400, 25)) < 0.1
    drop[:, [NECK, MID_HIP]] = False
    both = np.concatenate([held, train])
    both[drop, 2] = 0.0
    held, train = both[:400], both[400:]
    t0 = time.perf_counter()
    d, nearest = nearest_pose_distances(held, train)
    elapsed = time.perf_counter() - t0
    a, pa = normalise_poses(held, fallback_scale=100.0)
    b, pb = normalise_poses(train, fallback_scale=100.0)
    for i in (0, 123, 399):
        common = pa[i][None] & pb
        d2 = (((a[i][None] - b) ** 2).sum(-1) * common).sum(-1) / common.sum(-1)
        assert d[i] == pytest.approx(np.sqrt(d2.min()), rel=1e-9)
        assert nearest[i] == np.argmin(d2)
    assert elapsed < 2.0  # ~0.1 s; generous for a loaded 2-core machine
