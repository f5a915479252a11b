"""AKD and MKR on constructed cases."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.metrics.keypoints import keypoint_errors


def _truth(t: int = 2) -> np.ndarray:
    kp = np.zeros((t, 25, 3), dtype=np.float32)
    kp[..., 0] = np.arange(25) * 10.0
    kp[..., 1] = 50.0
    kp[..., 2] = 0.9
    return kp


def test_identical_keypoints() -> None:
    r = keypoint_errors(_truth(), _truth())
    assert r.akd == 0.0 and r.mkr == 0.0 and r.matched == 50 and r.in_truth == 50


def test_known_offsets_and_missing_joints() -> None:
    truth = _truth()
    truth[0, 24, 2] = 0.0  # not in the truth: neither matched nor missing
    out = truth.copy()
    out[0, :10, :2] += (3.0, 4.0)  # 5 px off
    out[1, :5, 2] = 0.05  # below the threshold: missing in the output
    out[1, 5, :2] = np.nan  # non-finite: missing too
    r = keypoint_errors(out, truth, min_confidence=0.1)
    assert r.in_truth == 49
    assert r.matched == 49 - 6
    assert r.mkr == pytest.approx(6 / 49)
    assert r.akd == pytest.approx(10 * 5.0 / 43)
    np.testing.assert_allclose(r.akd_per_frame, [10 * 5.0 / 24, 0.0])
    np.testing.assert_allclose(r.mkr_per_frame, [0.0, 6 / 25])


def test_threshold_decides_what_counts() -> None:
    truth = _truth(1)
    out = truth.copy()
    out[0, :, 2] = 0.3
    assert keypoint_errors(out, truth, min_confidence=0.2).mkr == 0.0
    assert keypoint_errors(out, truth, min_confidence=0.5).mkr == 1.0


def test_nothing_to_measure_gives_none() -> None:
    truth = _truth(1)
    truth[..., 2] = 0.0
    r = keypoint_errors(_truth(1), truth)
    assert r.akd is None and r.mkr is None and np.isnan(r.mkr_per_frame).all()


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(InputError, match="same"):
        keypoint_errors(_truth(2), _truth(3))
