"""Challenging poses ("R-frames"): the held-out frames whose pose is farthest from every
training pose, on which the paper reports R-SSIM and R-PSNR.

Definitions (fixed here, used by ``ptx score``):

- Poses are BODY_25 keypoints, float (N, K, 3) ``x, y, confidence`` in pixels (K >= 25;
  only the 25 body joints are used). A joint counts when its confidence is above
  ``min_confidence`` and its coordinates are finite.
- Normalisation: each pose is centred on its torso centre (midpoint of Neck and MidHip; the
  one of them that is present when the other is not) and divided by its torso length
  (|Neck - MidHip|). A frame without both uses the median torso length of all frames (the
  canonical frame's scale barely changes within one video); a frame with neither joint
  cannot be placed and gets no distance (NaN).
- Distance between two poses: the root mean square, over the joints present in both, of
  the normalised joints' 2D Euclidean distances, in torso lengths. It is the paper's
  "Euclidean distance of 2D keypoints" divided by sqrt(joint count), which keeps poses with
  a few undetected joints comparable. Pairs sharing fewer than ``min_common`` joints do not
  count.
- A held-out frame's distance is to its nearest training pose; the challenging frames are
  the ``m`` (paper: 10) held-out frames with the largest distance, fewer when fewer frames
  have one. Ties go to the earlier frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptx.errors import InputError

NECK = 1
MID_HIP = 8
BODY_JOINTS = 25


def _check_keypoints(kp: np.ndarray, name: str) -> np.ndarray:
    kp = np.asarray(kp, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1] < BODY_JOINTS or kp.shape[2] != 3:
        raise InputError(
            f"{name} has shape {kp.shape}; keypoints must be (N, K >= 25, 3) BODY_25 x, y, "
            "confidence."
        )
    return kp[:, :BODY_JOINTS]


def _present(kp: np.ndarray, min_confidence: float) -> np.ndarray:
    """bool (N, 25): the joints that count."""
    return np.isfinite(kp).all(axis=2) & (kp[..., 2] > min_confidence)


def torso_lengths(keypoints: np.ndarray, min_confidence: float = 0.1) -> np.ndarray:
    """float64 (N,): |Neck - MidHip| in pixels, NaN where either joint is missing."""
    kp = _check_keypoints(keypoints, "keypoints")
    ok = _present(kp, min_confidence)
    both = ok[:, NECK] & ok[:, MID_HIP]
    length = np.linalg.norm(kp[:, NECK, :2] - kp[:, MID_HIP, :2], axis=1)
    return np.where(both & (length > 0), length, np.nan)


def normalise_poses(
    keypoints: np.ndarray, min_confidence: float = 0.1, fallback_scale: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Centred, torso-scaled joints (definitions: module docstring).

    ``keypoints``: float (N, K >= 25, 3). Returns ``xy`` float64 (N, 25, 2) (0 where a joint
    is missing) and ``present`` bool (N, 25) (all False for a frame that cannot be placed).
    ``fallback_scale``: torso length for frames without both torso joints (default: the
    median torso length of these frames).
    """
    kp = _check_keypoints(keypoints, "keypoints")
    ok = _present(kp, min_confidence)
    torso = torso_lengths(kp, min_confidence)
    if fallback_scale is None:
        fallback_scale = float(np.nanmedian(torso)) if np.isfinite(torso).any() else np.nan
    scale = np.where(np.isfinite(torso), torso, fallback_scale)

    neck, hip = kp[:, NECK, :2], kp[:, MID_HIP, :2]
    has_neck, has_hip = ok[:, NECK], ok[:, MID_HIP]
    centre = np.where(
        (has_neck & has_hip)[:, None],
        0.5 * (neck + hip),
        np.where(has_hip[:, None], hip, neck),
    )
    placed = (has_neck | has_hip) & np.isfinite(scale) & (scale > 0)
    present = ok & placed[:, None]
    safe_scale = np.where(placed, scale, 1.0)
    xy = (np.nan_to_num(kp[..., :2]) - np.nan_to_num(centre)[:, None, :]) / safe_scale[
        :, None, None
    ]
    xy[~present] = 0.0
    return xy, present


def nearest_pose_distances(
    held_out: np.ndarray,
    training: np.ndarray,
    *,
    min_confidence: float = 0.1,
    min_common: int = 5,
    chunk: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """For each held-out pose, its distance to the nearest training pose.

    ``held_out``: float (N, K, 3); ``training``: float (M, K, 3) BODY_25 keypoints in the
    same canonical frame. Returns ``distance`` float64 (N,) in torso lengths (NaN where no
    training pose shares ``min_common`` joints with it) and ``nearest`` int64 (N,), the index
    of that training pose (-1 with NaN). Vectorised: one (chunk x M) matrix at a time, so
    4,000 x 400 poses take milliseconds.
    """
    both = np.concatenate(
        [_check_keypoints(held_out, "held_out"), _check_keypoints(training, "training")]
    )
    torso = torso_lengths(both, min_confidence)
    scale = float(np.nanmedian(torso)) if np.isfinite(torso).any() else None
    if scale is None:
        raise InputError(
            "No frame has both Neck and MidHip keypoints, so poses cannot be normalised.",
            "Check the keypoints stage found the person (ptx status).",
        )
    a, pa = normalise_poses(held_out, min_confidence, scale)
    b, pb = normalise_poses(training, min_confidence, scale)
    n = a.shape[0]
    distance = np.full(n, np.nan)
    nearest = np.full(n, -1, dtype=np.int64)
    if b.shape[0] == 0:
        return distance, nearest

    wb = pb.astype(np.float64)  # (M, 25)
    b_sq = (b**2).sum(axis=2) * wb  # (M, 25)
    b_w = (b * wb[..., None]).reshape(b.shape[0], -1)  # (M, 50)
    for start in range(0, n, max(1, chunk)):
        sl = slice(start, min(start + chunk, n))
        wa = pa[sl].astype(np.float64)
        a_sq = (a[sl] ** 2).sum(axis=2) * wa
        a_w = (a[sl] * wa[..., None]).reshape(wa.shape[0], -1)
        # sum over common joints of |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, each masked
        total = a_sq @ wb.T + wa @ b_sq.T - 2.0 * (a_w @ b_w.T)
        common = wa @ wb.T
        d2 = np.where(common >= min_common, np.maximum(total, 0.0) / np.maximum(common, 1), np.inf)
        best = np.argmin(d2, axis=1)
        best_d2 = d2[np.arange(d2.shape[0]), best]
        found = np.isfinite(best_d2)
        distance[sl] = np.where(found, np.sqrt(np.where(found, best_d2, 0.0)), np.nan)
        nearest[sl] = np.where(found, best, -1)
    return distance, nearest


@dataclass
class ChallengingFrames:
    """The held-out frames with the poses farthest from training, farthest first."""

    indices: np.ndarray
    """int64 (m,): index of each frame in the held-out range."""
    distances: np.ndarray
    """float64 (m,): its distance to the nearest training pose, in torso lengths."""
    nearest: np.ndarray
    """int64 (m,): index of that nearest training pose."""
    all_distances: np.ndarray
    """float64 (N,): every held-out frame's distance (NaN where it has none)."""


def challenging_frames(
    held_out: np.ndarray,
    training: np.ndarray,
    m: int = 10,
    *,
    min_confidence: float = 0.1,
    min_common: int = 5,
) -> ChallengingFrames:
    """The ``m`` held-out frames farthest from any training pose (the paper's R-frames).

    ``held_out``: float (N, K, 3), ``training``: float (M, K, 3) BODY_25 keypoints. Frames
    without a distance are never picked; ties go to the earlier frame.
    """
    distance, nearest = nearest_pose_distances(
        held_out, training, min_confidence=min_confidence, min_common=min_common
    )
    candidates = np.flatnonzero(np.isfinite(distance))
    order = candidates[np.lexsort((candidates, -distance[candidates]))][: max(0, m)]
    return ChallengingFrames(
        indices=order.astype(np.int64),
        distances=distance[order],
        nearest=nearest[order],
        all_distances=distance,
    )
