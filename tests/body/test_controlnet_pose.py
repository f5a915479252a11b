"""Pose images in ControlNet's annotator style: its colours, 60% limbs, joints on top."""

from __future__ import annotations

import numpy as np

from ptx.body.controlnet_pose import COCO_18_COLOURS, COCO_18_LIMBS, draw_controlnet_pose
from ptx.io.openpose import COCO_18_TO_BODY_25


def _figure() -> np.ndarray:
    """BODY_25 keypoints of a standing figure in a 200 x 200 picture."""
    coco = {0: (100, 30), 1: (100, 60), 2: (70, 60), 3: (60, 100), 4: (55, 140), 5: (130, 60),
            6: (140, 100), 7: (145, 140), 8: (85, 130), 9: (85, 165), 10: (85, 195),
            11: (115, 130), 12: (115, 165), 13: (115, 195), 14: (95, 25), 15: (105, 25),
            16: (88, 28), 17: (112, 28)}  # fmt: skip
    kp = np.zeros((25, 3), np.float32)
    for j, (x, y) in coco.items():
        kp[COCO_18_TO_BODY_25[j]] = (x, y, 0.9)
    return kp


def test_limbs_in_60_percent_of_their_colour_and_joints_in_full_colour():
    kp = _figure()
    img = draw_controlnet_pose(kp, (200, 220))
    assert img.shape == (200, 220, 3) and img.dtype == np.uint8
    coco = kp[list(COCO_18_TO_BODY_25)]
    for i in (2, 3, 7, 8):  # long limbs: arm and leg bones, away from other limbs
        a, b = COCO_18_LIMBS[i]
        mid = ((coco[a, :2] + coco[b, :2]) / 2).astype(int)
        want = [int(c * 0.6) for c in COCO_18_COLOURS[i]]
        assert img[mid[1], mid[0]].tolist() == want, i
    for j in (4, 7, 10, 13):  # wrists and ankles: discs in full colour
        x, y = coco[j, :2].astype(int)
        assert img[y, x].tolist() == list(COCO_18_COLOURS[j])
    assert (img[5, 5] == 0).all() and (img[100, 210] == 0).all()  # black elsewhere
    thick = (img[:, int(coco[9, 0]) - 10 : int(coco[9, 0]) + 10][147] != 0).any(-1).sum()
    assert 7 <= thick <= 10  # the leg is an ellipse 8 px thick


def test_missing_joints_leave_their_limbs_out():
    kp = _figure()
    kp[COCO_18_TO_BODY_25[3], 2] = 0.0  # the right elbow
    img = draw_controlnet_pose(kp, (200, 200))
    coco = kp[list(COCO_18_TO_BODY_25)]
    for a, b in ((2, 3), (3, 4)):
        mid = ((coco[a, :2] + coco[b, :2]) / 2).astype(int)
        assert (img[mid[1], mid[0]] == 0).all()
    assert not (draw_controlnet_pose(np.zeros((25, 3)), (50, 50)) != 0).any()


def test_hands_are_drawn_when_present():
    kp = np.zeros((67, 3), np.float32)
    kp[:25] = _figure()
    kp[25:46] = np.concatenate([np.stack([np.full(21, 40.0), np.linspace(150, 190, 21)], 1),
                                np.ones((21, 1))], 1)  # fmt: skip
    with_hands = draw_controlnet_pose(kp, (200, 200))
    body_only = draw_controlnet_pose(kp[:25], (200, 200))
    changed = (with_hands != body_only).any(-1)
    assert changed[150:191, 35:46].any() and not changed[:, 100:].any()
