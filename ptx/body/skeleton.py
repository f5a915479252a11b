"""The OpenPose BODY_25 skeleton: joint names, limbs, colours, and drawing it.

Keypoints everywhere in ptx are float (K, 3) rows of ``x, y, confidence`` in pixels, with
the picture spanning ``[0, W] x [0, H]`` (pixel ``i`` covers ``[i, i + 1)``, its centre is
``i + 0.5``). K is 25 (BODY_25), or 67 when hands are present (BODY_25, then OpenPose's
left hand 0..20, then the right hand 0..20). A joint with confidence 0 is missing.

:func:`draw_skeleton` renders the 3-channel pose label the networks take (limbs coloured
the way OpenPose renders them: each limb in the colour of its second joint, on black);
:func:`draw_skeleton_on` draws the same picture over an existing image (``ptx inspect``).
"""

from __future__ import annotations

import cv2
import numpy as np

from ptx.io.openpose import BODY_25

BODY_25_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11),
    (8, 12), (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18),
    (14, 19), (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
)  # fmt: skip
"""Joint pairs OpenPose draws for BODY_25, in its drawing order (24 limbs)."""

BODY_25_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 85), (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0),
    (85, 255, 0), (0, 255, 0), (255, 0, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
    (0, 170, 255), (0, 85, 255), (0, 0, 255), (255, 0, 170), (170, 0, 255), (255, 0, 255),
    (85, 0, 255), (0, 0, 255), (0, 0, 255), (0, 0, 255), (0, 255, 255), (0, 255, 255),
    (0, 255, 255),
)  # fmt: skip
"""RGB colour of each BODY_25 joint as OpenPose renders it; a limb takes its second joint's."""

HAND_LIMBS: tuple[tuple[int, int], ...] = tuple(
    (0 if j == 0 else 1 + 4 * f + j - 1, 1 + 4 * f + j) for f in range(5) for j in range(4)
)
"""The 20 bones of a 21-point hand (wrist 0, then 4 points per finger, thumb first); the
order is shared by OpenPose and MediaPipe."""

HAND_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0),
    (255, 255, 0),
    (0, 255, 0),
    (0, 255, 255),
    (0, 0, 255),
)
"""One RGB colour per finger (thumb to little finger)."""

BODY_JOINTS = len(BODY_25)
HAND_JOINTS = 21
WITH_HANDS = BODY_JOINTS + 2 * HAND_JOINTS
"""K of keypoints that carry both hands."""

_SHIFT = 4  # cv2 fixed-point bits: draw at 1/16 pixel precision


def default_line_width(height: int, width: int) -> int:
    """Limb thickness for a picture of this size: 4 px at 512 on its long side (the side
    the person's range of motion spans in a canonical frame), never below 1."""
    return max(1, round(max(height, width) / 128))


def _fixed(x: float, y: float) -> tuple[int, int]:
    # ptx coordinates put pixel centres at i + 0.5; cv2 puts them at i.
    scale = 1 << _SHIFT
    return round((x - 0.5) * scale), round((y - 0.5) * scale)


def _limbs(k: int) -> list[tuple[int, int, tuple[int, int, int], int]]:
    """(joint a, joint b, colour, width divisor) for keypoints with ``k`` rows."""
    out = [(a, b, BODY_25_COLOURS[b], 1) for a, b in BODY_25_LIMBS]
    if k >= WITH_HANDS:
        for base in (BODY_JOINTS, BODY_JOINTS + HAND_JOINTS):
            for i, (a, b) in enumerate(HAND_LIMBS):
                out.append((base + a, base + b, HAND_COLOURS[i // 4], 2))
    return out


def draw_skeleton_on(
    image: np.ndarray,
    keypoints: np.ndarray,
    line_width: int | None = None,
    min_confidence: float = 0.1,
    joints: bool = True,
) -> np.ndarray:
    """Draw ``keypoints`` float (K, 3) onto ``image`` uint8 (H, W, 3), in place; return it.

    A limb is drawn when both its joints have confidence above ``min_confidence``; hands
    (K = 67) are drawn at half the limb width. Points may lie outside the picture."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3 or kp.shape[0] < BODY_JOINTS:
        raise ValueError(f"keypoints must be (25, 3) or (67, 3), got {kp.shape}")
    h, w = image.shape[:2]
    width = line_width or default_line_width(h, w)
    ok = np.isfinite(kp).all(axis=1) & (kp[:, 2] > min_confidence)
    # Coordinates far outside the picture overflow cv2's fixed-point range; clamp them.
    lim = 4.0 * max(h, w)
    xy = np.clip(np.nan_to_num(kp[:, :2]), -lim, lim)
    for a, b, colour, div in _limbs(kp.shape[0]):
        if ok[a] and ok[b]:
            cv2.line(
                image,
                _fixed(*xy[a]),
                _fixed(*xy[b]),
                colour,
                max(1, width // div),
                cv2.LINE_AA,
                _SHIFT,
            )
    if joints:
        for j in np.flatnonzero(ok[:BODY_JOINTS]):
            radius = max(1, width) << _SHIFT
            cv2.circle(image, _fixed(*xy[j]), radius, BODY_25_COLOURS[j], -1, cv2.LINE_AA, _SHIFT)
    return image


def draw_skeleton(
    keypoints: np.ndarray,
    size: int | tuple[int, int],
    line_width: int | None = None,
    min_confidence: float = 0.1,
) -> np.ndarray:
    """The pose label: ``keypoints`` float (K, 3) drawn on black; returns uint8 (H, W, 3).

    ``size`` is the side of a square picture or its (height, width); the line width
    defaults to :func:`default_line_width` of that size."""
    h, w = (size, size) if isinstance(size, int) else size
    canvas = np.zeros((h, w, 3), np.uint8)
    return draw_skeleton_on(canvas, keypoints, line_width, min_confidence)


def skeleton_region(
    keypoints: np.ndarray, size: tuple[int, int], min_confidence: float = 0.1
) -> np.ndarray:
    """A rough person silhouette from keypoints alone: bool (H, W).

    Limbs are drawn as capsules a fifth of the torso length thick, the torso
    (shoulders and hips) is filled and the head is a disc; used where no segmentation is
    available (``mask`` stage fallback)."""
    h, w = size
    kp = np.asarray(keypoints, dtype=np.float64)
    ok = kp[:, 2] > min_confidence
    canvas = np.zeros((h, w), np.uint8)
    if ok.sum() < 2:
        return canvas.astype(bool)
    xy = np.clip(kp[:, :2], -4.0 * max(h, w), 4.0 * max(h, w))
    pts = xy[ok]
    extent = float(np.max(pts.max(0) - pts.min(0)))
    torso = _torso_length(xy, ok) or extent / 3.0
    thick = max(2, round(torso / 5.0))
    for a, b in BODY_25_LIMBS:
        if ok[a] and ok[b]:
            cv2.line(canvas, _fixed(*xy[a]), _fixed(*xy[b]), 1, thick, cv2.LINE_8, _SHIFT)
    quad = [j for j in (2, 5, 12, 9) if ok[j]]
    if len(quad) >= 3:
        poly = np.array([_fixed(*xy[j]) for j in quad], np.int32)
        cv2.fillConvexPoly(canvas, poly, 1, cv2.LINE_8, _SHIFT)
    head = [j for j in (0, 15, 16, 17, 18) if ok[j]]
    if head:
        centre = xy[head].mean(0)
        cv2.circle(canvas, _fixed(*centre), round(torso / 4.0) << _SHIFT, 1, -1, cv2.LINE_8, _SHIFT)
    return canvas.astype(bool)


def _torso_length(xy: np.ndarray, ok: np.ndarray) -> float | None:
    if ok[1] and ok[8]:
        return float(np.hypot(*(xy[1] - xy[8])))
    return None
