"""The open body model that ships with ptx (no licence to accept, no file to download).

A smooth articulated surface around SMPL's 24-joint skeleton: closed tubes along the
torso, neck and head, arms, hands, legs and feet (see ``ptx.body.tubes``), skinned to the
joints with weights that blend over each joint, so that bending a joint stretches the
surface instead of tearing it. Triangles carry DensePose's 24 part ids and per-part UV
charts. The rest pose is a T-pose with the feet about 0.99 m below the pelvis (1.77 m
tall at the mean shape).

Shape is 10 linear coefficients (about one standard deviation per unit), each changing
bone lengths or girths: see ``SHAPE_NAMES``. Because the mesh is a linear function of
joint positions and radii, shape is exact linear blend shapes, as in SMPL.

BODY_25 keypoints are joints where OpenPose's points are joints (shoulders, elbows,
wrists, hips, knees, ankles) and marker points on the surface elsewhere (nose, eyes,
ears, neck, mid-hip, toes, heels); markers are extra vertices that belong to no triangle.
"""

from __future__ import annotations

import functools

import numpy as np

from ptx.body import parts as P
from ptx.body.model import BodyModel
from ptx.body.tubes import Chain, ControlPoint, layout, orient_outward, vertices
from ptx.io.openpose import BODY_25

SHAPE_NAMES = (
    "leg_length", "torso_length", "arm_length", "shoulder_width", "hip_width",
    "torso_girth", "arm_girth", "leg_girth", "head_size", "body_girth",
)  # fmt: skip
"""What each shape coefficient changes."""

JOINTS_REST = np.array(
    [
        [0.0, 0.0, 0.0], [0.085, -0.07, 0.0], [-0.085, -0.07, 0.0], [0.0, 0.10, -0.01],
        [0.09, -0.50, 0.01], [-0.09, -0.50, 0.01], [0.0, 0.23, -0.01], [0.09, -0.90, -0.02],
        [-0.09, -0.90, -0.02], [0.0, 0.30, 0.0], [0.10, -0.96, 0.11], [-0.10, -0.96, 0.11],
        [0.0, 0.50, -0.01], [0.07, 0.43, 0.0], [-0.07, 0.43, 0.0], [0.0, 0.60, 0.02],
        [0.17, 0.45, -0.01], [-0.17, 0.45, -0.01], [0.44, 0.45, -0.02], [-0.44, 0.45, -0.02],
        [0.69, 0.45, -0.01], [-0.69, 0.45, -0.01], [0.77, 0.45, -0.01], [-0.77, 0.45, -0.01],
    ]
)  # fmt: skip
"""Rest (T-pose) joint positions at the mean shape, metres."""

_MIRROR_JOINT = [
    0,
    2,
    1,
    3,
    5,
    4,
    6,
    8,
    7,
    9,
    11,
    10,
    12,
    14,
    13,
    15,
    17,
    16,
    19,
    18,
    21,
    20,
    23,
    22,
]


def _cp(a, b, t, off, ra, rb, w) -> ControlPoint:
    return ControlPoint(a, b, t, off, ra, rb, w)


_TORSO = Chain(
    points=(
        _cp(0, 0, 0, (0, -0.13, 0), 0.09, 0.075, {0: 1}),
        _cp(0, 0, 0, (0, -0.075, 0), 0.15, 0.10, {0: 1}),
        _cp(0, 0, 0, (0, 0, 0), 0.158, 0.105, {0: 1}),
        _cp(3, 3, 0, (0, 0, 0), 0.145, 0.098, {0: 0.3, 3: 0.7}),
        _cp(6, 6, 0, (0, 0, 0), 0.15, 0.10, {3: 0.3, 6: 0.7}),
        _cp(9, 9, 0, (0, 0, 0), 0.165, 0.105, {6: 0.3, 9: 0.7}),
        _cp(9, 12, 0.6, (0, 0, 0), 0.172, 0.10, {9: 1}),
        _cp(12, 12, 0, (0, -0.02, 0), 0.13, 0.08, {9: 0.8, 12: 0.2}),
        _cp(12, 12, 0, (0, 0.005, 0), 0.06, 0.05, {9: 0.5, 12: 0.5}),
    ),
    rings=(2, 3, 3, 4, 4, 3, 3, 2),
    parts=(P.TORSO,) * 8,
    side=(1, 0, 0),
    front=(0, 0, 1),
    around=32,
    group="torso",
)

_HEAD = Chain(
    points=(
        _cp(9, 12, 0.5, (0, 0, 0), 0.052, 0.055, {9: 1}),
        _cp(12, 12, 0, (0, 0, 0.005), 0.05, 0.052, {9: 0.4, 12: 0.6}),
        _cp(12, 15, 0.7, (0, 0, 0.01), 0.055, 0.055, {12: 0.5, 15: 0.5}),
        _cp(15, 15, 0, (0, 0.035, 0.02), 0.095, 0.078, {15: 1}),
        _cp(15, 15, 0, (0, 0.09, 0.012), 0.10, 0.082, {15: 1}),
        _cp(15, 15, 0, (0, 0.145, 0.0), 0.078, 0.066, {15: 1}),
        _cp(15, 15, 0, (0, 0.175, -0.005), 0.038, 0.032, {15: 1}),
    ),
    rings=(2, 3, 4, 3, 3, 2),
    parts=(P.HEAD,) * 6,
    side=(0, 0, 1),
    front=(1, 0, 0),
    around=24,
    group="head",
)

_LEFT_ARM = Chain(
    points=(
        _cp(13, 13, 0, (0, -0.01, 0), 0.05, 0.05, {13: 1}),
        _cp(16, 16, 0, (0, -0.005, 0), 0.056, 0.054, {13: 0.5, 16: 0.5}),
        _cp(16, 18, 0.5, (0, 0, 0), 0.046, 0.047, {16: 1}),
        _cp(18, 18, 0, (0, 0, 0), 0.038, 0.04, {16: 0.5, 18: 0.5}),
        _cp(18, 20, 0.45, (0, 0, 0), 0.035, 0.041, {18: 1}),
        _cp(20, 20, 0, (0, 0, 0), 0.024, 0.031, {18: 0.5, 20: 0.5}),
        _cp(20, 20, 0, (0.012, 0, 0), 0.02, 0.026, {20: 1}),
    ),
    rings=(2, 4, 5, 5, 5, 1),
    parts=(P.LEFT_UPPER_ARM,) * 3 + (P.LEFT_LOWER_ARM,) * 3,
    side=(0, 1, 0),
    front=(0, 0, 1),
    around=16,
    group="arm",
)

_LEFT_HAND = Chain(
    points=(
        _cp(20, 22, -0.25, (0, 0, 0), 0.02, 0.028, {18: 0.5, 20: 0.5}),
        _cp(20, 20, 0, (0, 0, 0), 0.021, 0.032, {20: 1}),
        _cp(20, 22, 1.0, (0, 0, 0), 0.017, 0.042, {20: 0.5, 22: 0.5}),
        _cp(20, 22, 1.9, (0, 0, 0), 0.012, 0.036, {22: 1}),
        _cp(20, 22, 2.2, (0, 0, 0), 0.006, 0.018, {22: 1}),
    ),
    rings=(1, 3, 3, 2),
    parts=(P.LEFT_HAND,) * 4,
    side=(0, 1, 0),
    front=(0, 0, 1),
    around=12,
    group="hand",
)

_LEFT_LEG = Chain(
    points=(
        _cp(1, 1, 0, (0, 0.07, -0.005), 0.07, 0.07, {0: 1}),
        _cp(1, 1, 0, (0, 0, 0), 0.08, 0.085, {0: 0.5, 1: 0.5}),
        _cp(1, 4, 0.45, (0, 0, 0), 0.07, 0.075, {1: 1}),
        _cp(4, 4, 0, (0, 0, 0), 0.051, 0.055, {1: 0.5, 4: 0.5}),
        _cp(4, 7, 0.3, (0, 0, -0.01), 0.053, 0.058, {4: 1}),
        _cp(7, 7, 0, (0, 0, 0), 0.034, 0.037, {4: 0.5, 7: 0.5}),
        _cp(7, 7, 0, (0, -0.03, 0), 0.03, 0.032, {7: 1}),
    ),
    rings=(2, 5, 6, 4, 6, 1),
    parts=(P.LEFT_UPPER_LEG,) * 3 + (P.LEFT_LOWER_LEG,) * 3,
    side=(1, 0, 0),
    front=(0, 0, 1),
    around=16,
    group="leg",
)

_LEFT_FOOT = Chain(
    points=(
        _cp(7, 7, 0, (0, -0.045, -0.07), 0.026, 0.026, {7: 1}),
        _cp(7, 7, 0, (0, -0.05, -0.035), 0.036, 0.04, {7: 1}),
        _cp(7, 7, 0, (0.004, -0.058, 0.05), 0.042, 0.032, {7: 1}),
        _cp(10, 10, 0, (0, 0, 0), 0.044, 0.026, {7: 0.5, 10: 0.5}),
        _cp(10, 10, 0, (0, -0.006, 0.065), 0.034, 0.016, {10: 1}),
    ),
    rings=(2, 4, 3, 3),
    parts=(P.LEFT_FOOT,) * 4,
    side=(1, 0, 0),
    front=(0, 1, 0),
    around=12,
    group="foot",
)

# BODY_25 keypoints: ("joint", j) or ("marker", joint, offset from that joint, head-scaled)
_MARKERS_LEFT = {
    "LEye": (15, (0.032, 0.068, 0.098), True),
    "LEar": (15, (0.078, 0.05, 0.0), True),
    "LBigToe": (10, (-0.022, -0.02, 0.085), False),
    "LSmallToe": (10, (0.026, -0.02, 0.065), False),
    "LHeel": (7, (0.0, -0.07, -0.085), False),
}
_MARKERS_CENTRE = {
    "Nose": (15, (0.0, 0.03, 0.112), True),
    "Neck": (9, (0.0, 0.15, -0.01), False),
    "MidHip": (0, (0.0, -0.07, 0.0), False),
}
_KP_JOINTS = {
    "RShoulder": 17, "RElbow": 19, "RWrist": 21, "LShoulder": 16, "LElbow": 18,
    "LWrist": 20, "RHip": 2, "RKnee": 5, "RAnkle": 8, "LHip": 1, "LKnee": 4, "LAnkle": 7,
}  # fmt: skip


def _mirror_point(p: ControlPoint) -> ControlPoint:
    return ControlPoint(
        _MIRROR_JOINT[p.a],
        _MIRROR_JOINT[p.b],
        p.t,
        (-p.offset[0], p.offset[1], p.offset[2]),
        p.ra,
        p.rb,
        {_MIRROR_JOINT[j]: w for j, w in p.weights.items()},
    )


def _mirror(chain: Chain) -> Chain:
    return Chain(
        points=tuple(_mirror_point(p) for p in chain.points),
        rings=chain.rings,
        parts=tuple((int(P.MIRROR_PART[a]), int(P.MIRROR_PART[b])) for a, b in chain.parts),
        side=(-chain.side[0], chain.side[1], chain.side[2]),
        front=(-chain.front[0], chain.front[1], chain.front[2]),
        around=chain.around,
        group=chain.group,
    )


def _chains() -> list[Chain]:
    left = [_LEFT_ARM, _LEFT_HAND, _LEFT_LEG, _LEFT_FOOT]
    return [_TORSO, _HEAD, *left, *[_mirror(c) for c in left]]


def _markers() -> dict[str, tuple[int, tuple[float, float, float], bool]]:
    out = dict(_MARKERS_CENTRE)
    for name, (j, off, head) in _MARKERS_LEFT.items():
        out[name] = (j, off, head)
        out["R" + name[1:]] = (_MIRROR_JOINT[j], (-off[0], off[1], off[2]), head)
    return out


def shaped_joints(betas: np.ndarray) -> np.ndarray:
    """(24, 3) rest joints for shape ``betas`` (10,) (linear in ``betas``)."""
    b = np.zeros(len(SHAPE_NAMES))
    b[: len(betas)] = betas
    j = JOINTS_REST.copy()
    for hip, knee, ankle, foot in ((1, 4, 7, 10), (2, 5, 8, 11)):
        d = JOINTS_REST[knee] - JOINTS_REST[hip]
        d /= np.linalg.norm(d)
        j[knee] += 0.045 * b[0] * d
        j[[ankle, foot]] += 0.09 * b[0] * d
    j[3, 1] += 0.01 * b[1]
    j[6, 1] += 0.025 * b[1]
    j[9, 1] += 0.035 * b[1]
    j[[12, 13, 14, 15, *range(16, 24)], 1] += 0.045 * b[1]
    for side, (collar, sh, el, wr, hand) in ((1, (13, 16, 18, 20, 22)), (-1, (14, 17, 19, 21, 23))):
        j[el, 0] += side * 0.03 * b[2]
        j[wr, 0] += side * 0.06 * b[2]
        j[hand, 0] += side * 0.066 * b[2]
        j[collar, 0] += side * 0.008 * b[3]
        j[[sh, el, wr, hand], 0] += side * 0.022 * b[3]
    for side, leg in ((1, (1, 4, 7, 10)), (-1, (2, 5, 8, 11))):
        j[list(leg), 0] += side * 0.012 * b[4]
    return j


def _scales(b: np.ndarray) -> tuple[dict[str, float], float]:
    """Radius scale per girth group and the head's offset scale, linear in ``b``."""
    radius = {
        "torso": 1 + 0.08 * b[5] + 0.06 * b[9],
        "arm": 1 + 0.1 * b[6] + 0.06 * b[9],
        "hand": 1 + 0.03 * b[6],
        "leg": 1 + 0.1 * b[7] + 0.06 * b[9],
        "foot": 1.0,
        "head": 1 + 0.07 * b[8],
    }
    return radius, 1 + 0.07 * b[8]


def _build_vertices(layouts, markers, betas: np.ndarray) -> np.ndarray:
    joints = shaped_joints(betas)
    radius, head_off = _scales(betas)
    parts = [
        vertices(lay, joints, radius[lay.chain.group], head_off if lay.chain.group == "head" else 1)
        for lay in layouts
    ]
    marks = [joints[j] + (head_off if head else 1.0) * np.array(off) for j, off, head in markers]
    return np.concatenate([*parts, np.array(marks)])


@functools.lru_cache(maxsize=1)
def open_body_model() -> BodyModel:
    """The open model (built once per process, about 50 ms)."""
    layouts = [layout(c, JOINTS_REST) for c in _chains()]
    marker_items = list(_markers().items())
    markers = [m for _, m in marker_items]
    n_b = len(SHAPE_NAMES)
    v0 = _build_vertices(layouts, markers, np.zeros(n_b))
    dirs = np.stack([_build_vertices(layouts, markers, np.eye(n_b)[i]) - v0 for i in range(n_b)])
    j0 = shaped_joints(np.zeros(n_b))
    jdirs = np.stack([shaped_joints(np.eye(n_b)[i]) - j0 for i in range(n_b)])

    faces, fparts, fuvs, weights = [], [], [], []
    base = 0
    for lay in layouts:
        n_v = len(lay.skin)
        f_local, uv = lay.faces, lay.face_uv
        if not orient_outward(v0[base : base + n_v], f_local):
            f_local, uv = f_local[:, [0, 2, 1]], uv[:, [0, 2, 1]]
        faces.append(f_local + base)
        fuvs.append(uv)
        fparts.append(lay.face_part)
        weights.append(lay.skin)
        base += n_v
    names = list(_markers())
    for j, _, _ in markers:
        w = np.zeros(P.N_JOINTS)
        w[j] = 1.0
        weights.append(w[None])
    kp_index, kp_joint = [], []
    for name in BODY_25:
        if name in _KP_JOINTS:
            kp_index.append(_KP_JOINTS[name])
            kp_joint.append(True)
        else:
            kp_index.append(base + names.index(name))
            kp_joint.append(False)
    return BodyModel(
        name="open",
        v_template=v0.astype(np.float32),
        shapedirs=np.ascontiguousarray(dirs.transpose(1, 2, 0)).astype(np.float32),
        j_template=j0.astype(np.float32),
        j_shapedirs=np.ascontiguousarray(jdirs.transpose(1, 2, 0)).astype(np.float32),
        weights=np.concatenate(weights).astype(np.float32),
        faces=np.concatenate(faces).astype(np.int32),
        face_part=np.concatenate(fparts).astype(np.uint8),
        face_uv=np.concatenate(fuvs).astype(np.float32),
        kp_index=np.array(kp_index, np.int64),
        kp_is_joint=np.array(kp_joint, bool),
        kp_weight=np.ones(25, np.float32),
    )
