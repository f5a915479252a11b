"""Retargeting a source's motion to the target person.

``2d`` is Everybody Dance Now's global pose normalisation (Chan et al. 2019): each person's
nearest and farthest ankle positions (largest and smallest image y) and their heights there
define a linear map from source to target; a source frame's scale is interpolated by where
its ankles are between the source's far and near positions, and its ankle position is mapped
linearly onto the target's range. ``none`` keeps the source keypoints as they are.

Two choices of ours, where the scheme reads poses as distance. A person's height at a
position is the 90th percentile of the heights seen there (the standing one; EDN's
description does not say, and a median took crouches for distance). And a person whose
ankles stay within :data:`FLAT` of their height up and down the picture is taken to stay at
one distance: their ankles' rise is a jump, not a step back, so the source keeps one scale
(the target's near height over the source's) and its ankles' offset from its ground line,
scaled, on the target's near line. Measured on the real dance clip: its ankles stay within
23 px (9% of a 250 px figure) while the dancer jumps, crouches and, at the end, steps from
4.0 to 2.9 m from the camera (the body fit's depth) with the feet leaving the picture. The
heights at the two ends of that ankle range (159 and 240 px) mixed the step with crouches,
and the scale, interpolated over 23 px, swung between 0.78 and 1.27 with each jump. As one
distance, the figure keeps one scale and its size follows the source's, the step included
(the 3D retargeting, whose projected ankles stay within 12 px there, does the same).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ptx.errors import QualityError

ANKLES = (11, 14)
"""BODY_25 RAnkle, LAnkle."""
HEAD = (0, 15, 16, 17, 18)
"""BODY_25 Nose, eyes, ears: the top of the figure for height."""
FLAT = 0.15
"""Ankle range (far to near) below this fraction of the standing height: one distance.
A person walking half a metre nearer at 4 m from a camera at hip height moves their
ankles ~8% of their height down the picture (and grows 14%); on the real clip the ankles
stayed within 9% through jumps, crouches and a step towards the camera whose feet left the
picture."""


@dataclass(frozen=True)
class GroundStats:
    """Where a person's feet are over a video, and how tall they appear there (pixels)."""

    far_y: float
    """Ankle y when farthest from the camera (small y)."""
    near_y: float
    """Ankle y when nearest (large y): with ``flat``, the ground line."""
    far_height: float
    near_height: float
    center_x: float
    flat: bool = False
    """The ankles stay within :data:`FLAT` of the height: one distance, one height."""


def _ankle_y_height(kp: np.ndarray, min_conf: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: ankle y (mean of confident ankles), figure height, ankle x; NaN if unknown."""
    conf = kp[..., 2] >= min_conf
    ank = np.where(conf[:, ANKLES], kp[:, ANKLES, 1], np.nan)
    ankx = np.where(conf[:, ANKLES], kp[:, ANKLES, 0], np.nan)
    head = np.where(conf[:, HEAD], kp[:, HEAD, 1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames are expected
        y = np.nanmean(ank, axis=1)
        x = np.nanmean(ankx, axis=1)
        top = np.nanmin(head, axis=1)
    return y, y - top, x


def ground_stats(kp: np.ndarray, min_conf: float = 0.3, band: float = 0.05) -> GroundStats:
    """Ground statistics of keypoints float (T, 25, 3): the 5th/95th percentiles of ankle y
    give the far/near positions; heights are the 90th percentiles over frames within
    ``band`` (fraction of the ankle range, at least 2 px) of each, or over all frames when
    the range is ``flat`` (module docstring). A photo (one frame) is its own far and near
    position: a motion retargeted onto it stays where the photo shows the person."""
    y, h, x = _ankle_y_height(kp, min_conf)
    ok = np.isfinite(y) & np.isfinite(h) & (h > 0)
    if ok.sum() < min(2, len(kp)):
        raise QualityError(
            "Too few frames show both the ankles and the head to normalise the pose.",
            "Use --retarget none, or a source video where the whole body is visible.",
        )
    y, h, x = y[ok], h[ok], x[ok]
    far, near = np.percentile(y, 5), np.percentile(y, 95)
    standing = float(np.percentile(h, 90))
    centre = float(np.nanmedian(x))
    if near - far < FLAT * standing:
        return GroundStats(float(far), float(near), standing, standing, centre, flat=True)
    tol = max(2.0, band * (near - far))
    far_h = float(np.percentile(h[np.abs(y - far) <= tol], 90))
    near_h = float(np.percentile(h[np.abs(y - near) <= tol], 90))
    return GroundStats(float(far), float(near), far_h, near_h, centre)


def normalize_2d(source: np.ndarray, target: np.ndarray, min_conf: float = 0.3) -> np.ndarray:
    """Map source keypoints float (T, 25, 3) into the target's frame (Everybody Dance Now).

    Returns float32 (T, 25, 3); confidences are kept. Frames without visible ankles use the
    scale and offset of the nearest frame that has them."""
    src, tgt = ground_stats(source, min_conf), ground_stats(target, min_conf)
    y, _, x = _ankle_y_height(source, min_conf)
    idx = np.arange(len(y))
    ok = np.isfinite(y)
    y = np.interp(idx, idx[ok], y[ok])
    x = np.interp(idx, idx[ok], x[ok])
    if src.flat:  # one distance: one scale, the ankles' offset from the ground line kept
        scale = np.full_like(y, tgt.near_height / src.near_height)
        new_y = tgt.near_y + (y - src.near_y) * scale
    else:  # position between the far and near ankle lines (mild extrapolation beyond them)
        a = np.clip((y - src.far_y) / (src.near_y - src.far_y), -0.5, 1.5)
        s_far, s_near = tgt.far_height / src.far_height, tgt.near_height / src.near_height
        scale = s_far + a * (s_near - s_far)
        new_y = tgt.far_y + a * (tgt.near_y - tgt.far_y)
    new_x = tgt.center_x + (x - src.center_x) * scale
    out = source.astype(np.float32).copy()
    out[..., 0] = new_x[:, None] + (source[..., 0] - x[:, None]) * scale[:, None]
    out[..., 1] = new_y[:, None] + (source[..., 1] - y[:, None]) * scale[:, None]
    out[source[..., 2] <= 0] = 0.0
    return out
