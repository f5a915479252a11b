"""Naming conventions shared by every body model: SMPL's 24-joint kinematic tree and
DensePose's 24 surface parts.

Coordinates of a body model's rest pose: metres, ``+y`` up, ``+x`` towards the person's
left, ``+z`` forward (the direction the person faces). The rest pose is SMPL's T-pose: arms
horizontal along ``x``, legs straight down.

Part ids follow DensePose (0 is background). "Front" is the anterior half of a part in
the rest pose (``+z``), "back" the posterior half; the head is split into the person's
right (23) and left (24) halves. Left and right are the person's own.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip
"""SMPL's 24 joints, in order."""

PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
    dtype=np.int64,
)
"""Parent of each joint in SMPL's kinematic tree (-1 for the root)."""

N_JOINTS = 24
N_PARTS = 24

PART_NAMES = (
    "background",
    "torso_back", "torso_front", "right_hand", "left_hand", "left_foot", "right_foot",
    "right_upper_leg_back", "left_upper_leg_back", "right_upper_leg_front",
    "left_upper_leg_front", "right_lower_leg_back", "left_lower_leg_back",
    "right_lower_leg_front", "left_lower_leg_front", "left_upper_arm_front",
    "right_upper_arm_front", "left_upper_arm_back", "right_upper_arm_back",
    "left_lower_arm_front", "right_lower_arm_front", "left_lower_arm_back",
    "right_lower_arm_back", "head_right", "head_left",
)  # fmt: skip
"""DensePose's part names by id (``PART_NAMES[i]`` for I = i)."""

# Parts as (front-or-left id, back-or-right id) per body segment; whole parts repeat the id.
TORSO = (2, 1)
HEAD = (24, 23)
"""Head halves: (left, right)."""
LEFT_HAND, RIGHT_HAND = (4, 4), (3, 3)
LEFT_FOOT, RIGHT_FOOT = (5, 5), (6, 6)
LEFT_UPPER_LEG, RIGHT_UPPER_LEG = (10, 8), (9, 7)
LEFT_LOWER_LEG, RIGHT_LOWER_LEG = (14, 12), (13, 11)
LEFT_UPPER_ARM, RIGHT_UPPER_ARM = (15, 17), (16, 18)
LEFT_LOWER_ARM, RIGHT_LOWER_ARM = (19, 21), (20, 22)

MIRROR_PART = np.array(
    [0, 1, 2, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24, 23],
    dtype=np.uint8,
)
"""The same part on the other side of the body (``MIRROR_PART[I]``)."""
