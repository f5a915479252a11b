"""Keypoint agreement between output and real frames: AKD and MKR.

The keypoint detector runs on the output frames; its keypoints are compared with the ones
the same detector found on the real frames (the store's ``keypoints``). Definitions (fixed
here, used by ``ptx score``):

- A joint is *found* in a frame when its confidence is above ``min_confidence`` and its
  coordinates are finite.
- **AKD** (average keypoint distance): the mean, over every (frame, joint) found in both,
  of the Euclidean distance in pixels of the canonical frame. Pooled over the sequence
  (every matched joint weighs the same), not a mean of per-frame means.
- **MKR** (missing keypoint rate): among every (frame, joint) found in the truth, the
  fraction not found in the output. Pooled the same way.
- Per-frame values are given too (NaN where a frame has nothing to measure).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptx.errors import InputError


@dataclass
class KeypointErrors:
    """AKD and MKR of a sequence, with their per-frame values."""

    akd: float | None
    """Average keypoint distance in pixels (None when no joint was found in both)."""
    mkr: float | None
    """Missing keypoint rate in [0, 1] (None when the truth has no joint)."""
    akd_per_frame: np.ndarray
    """float64 (T,): mean distance of the frame's matched joints (NaN without any)."""
    mkr_per_frame: np.ndarray
    """float64 (T,): the frame's missing rate (NaN when its truth has no joint)."""
    matched: int
    """Number of (frame, joint) pairs found in both."""
    in_truth: int
    """Number of (frame, joint) pairs found in the truth."""


def found_joints(keypoints: np.ndarray, min_confidence: float) -> np.ndarray:
    """bool (T, K): the joints found (confidence above ``min_confidence``, finite)."""
    return np.isfinite(keypoints).all(axis=2) & (keypoints[..., 2] > min_confidence)


def keypoint_errors(
    output: np.ndarray, truth: np.ndarray, min_confidence: float = 0.1
) -> KeypointErrors:
    """AKD and MKR (definitions: module docstring).

    ``output``: float (T, K, 3) keypoints detected on the output frames; ``truth``: float
    (T, K, 3) keypoints of the real frames (x, y in pixels, confidence); same T and K
    (pass ``[:, :25]`` of both to leave hands out).
    """
    out = np.asarray(output, dtype=np.float64)
    ref = np.asarray(truth, dtype=np.float64)
    if out.ndim != 3 or out.shape[2] != 3 or out.shape != ref.shape:
        raise InputError(
            f"output keypoints are {out.shape} and truth {ref.shape}; both must be the same "
            "(T, K, 3) x, y, confidence."
        )
    in_ref = found_joints(ref, min_confidence)
    in_out = found_joints(out, min_confidence)
    both = in_ref & in_out
    dist = np.linalg.norm(np.nan_to_num(out[..., :2] - ref[..., :2]), axis=2) * both
    matched_pf = both.sum(axis=1)
    truth_pf = in_ref.sum(axis=1)
    missing_pf = (in_ref & ~in_out).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        akd_pf = np.where(matched_pf > 0, dist.sum(axis=1) / matched_pf, np.nan)
        mkr_pf = np.where(truth_pf > 0, missing_pf / truth_pf, np.nan)
    matched, in_truth = int(matched_pf.sum()), int(truth_pf.sum())
    return KeypointErrors(
        akd=float(dist.sum() / matched) if matched else None,
        mkr=float(missing_pf.sum() / in_truth) if in_truth else None,
        akd_per_frame=akd_pf,
        mkr_per_frame=mkr_pf,
        matched=matched,
        in_truth=in_truth,
    )
