"""Pose images as ControlNet's OpenPose annotator draws them (the conditioning picture
ControlNet, ComfyUI, AnimateDiff and MimicMotion pipelines expect).

The COCO-18 skeleton on black: 17 limbs, each a filled ellipse 8 px thick along the bone
in 60% of its colour, then a 4 px disc in full colour at each joint, in the annotator's
18 RGB colours (red at the nose, through yellow and green, to magenta at the ears).
Hands (K = 67) are drawn as the annotator's hand model does: 2 px bones coloured around
the hue circle, 4 px blue joints. Coordinates are truncated to whole pixels, as there.
ptx's own pose label (:mod:`ptx.body.skeleton`) is the BODY_25 picture its networks take;
this one is for other tools.
"""

from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np

from ptx.body.skeleton import BODY_JOINTS, HAND_JOINTS, HAND_LIMBS, WITH_HANDS
from ptx.io.openpose import COCO_18_TO_BODY_25

COCO_18_LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
    (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)  # fmt: skip
"""COCO-18 joint pairs in the annotator's drawing order (0-based)."""

COCO_18_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)  # fmt: skip
"""RGB colour of each COCO-18 joint; limb i takes colour i at 60%."""

STICK = 4
"""Half the thickness of a limb, pixels."""
RADIUS = 4
"""Radius of a joint disc, pixels."""


def draw_controlnet_pose(
    keypoints: np.ndarray, size: tuple[int, int], min_confidence: float = 0.05
) -> np.ndarray:
    """``keypoints`` float (25 or 67, 3) in BODY_25 order (pixels) drawn on black as the
    annotator draws COCO-18 (module docstring): uint8 (H, W, 3) RGB for ``size`` (H, W)."""
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 2 or kp.shape[1] != 3 or kp.shape[0] < BODY_JOINTS:
        raise ValueError(f"keypoints must be (25, 3) or (67, 3), got {kp.shape}")
    h, w = size
    canvas = np.zeros((h, w, 3), np.uint8)
    coco = kp[list(COCO_18_TO_BODY_25)]
    ok = np.isfinite(coco).all(1) & (coco[:, 2] > min_confidence)
    lim = 4.0 * max(h, w)
    xy = np.clip(np.nan_to_num(coco[:, :2]), -lim, lim)
    for i, (a, b) in enumerate(COCO_18_LIMBS):
        if not (ok[a] and ok[b]):
            continue
        (xa, ya), (xb, yb) = xy[a], xy[b]
        length = math.hypot(xa - xb, ya - yb)
        angle = math.degrees(math.atan2(ya - yb, xa - xb))
        centre = (int((xa + xb) / 2), int((ya + yb) / 2))
        poly = cv2.ellipse2Poly(centre, (int(length / 2), STICK), int(angle), 0, 360, 1)
        cv2.fillConvexPoly(canvas, poly, [int(c * 0.6) for c in COCO_18_COLOURS[i]])
    for j in np.flatnonzero(ok):
        cv2.circle(canvas, (int(xy[j, 0]), int(xy[j, 1])), RADIUS, COCO_18_COLOURS[j], -1)
    if kp.shape[0] >= WITH_HANDS:
        for base in (BODY_JOINTS, BODY_JOINTS + HAND_JOINTS):
            _draw_hand(canvas, kp[base : base + HAND_JOINTS], min_confidence)
    return canvas


def _draw_hand(canvas: np.ndarray, hand: np.ndarray, min_confidence: float) -> None:
    ok = hand[:, 2] > min_confidence
    pts = [(int(x), int(y)) for x, y in np.nan_to_num(hand[:, :2])]
    for i, (a, b) in enumerate(HAND_LIMBS):
        if ok[a] and ok[b]:
            rgb = colorsys.hsv_to_rgb(i / len(HAND_LIMBS), 1.0, 1.0)
            cv2.line(canvas, pts[a], pts[b], [int(c * 255) for c in rgb], 2)
    for j in np.flatnonzero(ok):
        cv2.circle(canvas, pts[j], RADIUS, (0, 0, 255), -1)
