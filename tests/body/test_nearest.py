"""The sorted sweep finds exactly the nearest point that a search over every pair finds."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.body.nearest import nearest_points


def _brute(queries: np.ndarray, points: np.ndarray) -> np.ndarray:
    d = queries[:, :, None, :] - points[:, None, :, :]
    return (d[..., 0] * d[..., 0] + d[..., 1] * d[..., 1]).argmin(-1)


def test_the_sweep_matches_a_search_over_every_pair():
    rng = np.random.default_rng(0)
    frames = []
    for t in range(12):
        # tall, wide and round clouds (the sweep's axis follows the spread), queries
        # inside and far outside them, on a coarse grid so that distances tie
        scale = [(1.0, 4.0), (4.0, 1.0), (1.0, 1.0)][t % 3]
        pts = (rng.normal(0, 1, (50, 2)) * scale * 8).round() / 2
        q = (rng.normal(0, 1.5, (40, 2)) * scale * 8).round() / 2
        frames.append((q, pts))
    queries = np.stack([q for q, _ in frames]).astype(np.float32)
    points = np.stack([p for _, p in frames]).astype(np.float32)
    points[0, 7] = points[0, 3]  # a duplicate: the lower index wins, as argmin gives it
    got = nearest_points(queries, points)
    want = _brute(queries, points)
    np.testing.assert_array_equal(got, want)
    assert (got[0] != 7).all()


def test_a_single_point_and_bad_shapes():
    q = np.zeros((2, 3, 2), np.float32)
    p = np.ones((2, 1, 2), np.float32)
    assert (nearest_points(q, p) == 0).all()
    with pytest.raises(ValueError):
        nearest_points(q, np.ones((2, 0, 2), np.float32))
