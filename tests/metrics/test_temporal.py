"""Temporal error: a known shift with the right flow, the wrong flow, occlusion masks."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.metrics.temporal import TemporalErrors, temporal_errors


def _shifting_clip(t: int = 5, size: int = 40) -> np.ndarray:
    """uint8 (t, size, size, 3): a smooth-ish texture moving 1 px right per frame."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size + 2 * t, size + 2 * t, 3), dtype=np.uint8)
    return np.stack([base[t : t + size, t - i : t - i + size] for i in range(t)])


def _flow(t: int, size: int, dx: float) -> np.ndarray:
    f = np.zeros((t, size, size, 2), dtype=np.float16)
    f[..., 0] = dx
    return f


def test_right_flow_gives_near_zero_error_and_zero_flow_a_large_one() -> None:
    clip = _shifting_clip()
    right = temporal_errors(clip, _flow(5, 40, -1.0))  # frame t at x = frame t-1 at x - 1
    wrong = temporal_errors(clip, _flow(5, 40, 0.0))
    assert np.isnan(right.mae[0])  # frame 0 has no previous frame
    assert right.summary()["temporal_error"] < 1e-3
    assert wrong.summary()["temporal_error"] > 40.0  # random texture: ~85 on 0..255
    assert wrong.summary()["temporal_rms"] > wrong.summary()["temporal_error"]
    # the column whose source falls outside the frame is left out
    np.testing.assert_allclose(right.valid_fraction[1:], 39 / 40)


def test_occluded_pixels_are_left_out() -> None:
    clip = _shifting_clip()
    bad = clip.copy()
    bad[3, :, :10] = 0  # a flicker in a region the validity mask excludes
    valid = np.ones((5, 40, 40), dtype=bool)
    valid[3, :, :10] = False  # pair 2 -> 3
    valid[4, :, :11] = False  # pair 3 -> 4 samples frame 3 at x - 1
    flow = _flow(5, 40, -1.0)
    assert temporal_errors(bad, flow, valid).summary()["temporal_error"] < 1e-3
    assert temporal_errors(bad, flow).summary()["temporal_error"] > 1.0


def test_chunks_chained_with_previous_match_one_call() -> None:
    rng = np.random.default_rng(3)
    clip = rng.integers(0, 256, (6, 24, 24, 3), dtype=np.uint8)
    flow = rng.normal(0, 1.5, (6, 24, 24, 2)).astype(np.float32)
    whole = temporal_errors(clip, flow, batch=4)
    parts = TemporalErrors.concat(
        [
            temporal_errors(clip[:2], flow[:2], batch=3),
            temporal_errors(clip[2:], flow[2:], previous=clip[1], batch=3),
        ]
    )
    np.testing.assert_allclose(parts.mae, whole.mae, equal_nan=True, atol=1e-9)
    np.testing.assert_allclose(parts.rms, whole.rms, equal_nan=True, atol=1e-9)


def test_bad_flow_shape_is_refused() -> None:
    clip = _shifting_clip()
    with pytest.raises(InputError, match="flow"):
        temporal_errors(clip, _flow(5, 32, 0.0))
    with pytest.raises(InputError, match="5 frames, flow 4"):
        temporal_errors(clip, _flow(4, 40, 0.0))
