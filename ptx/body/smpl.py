"""SMPL as a ptx body model: shape blend shapes, pose blend shapes and LBS from the
user's own SMPL file, with DensePose parts and UV charts assigned to its vertices.

Parts come from the skinning weights: each vertex belongs to the body segment of the
joint that moves it most (thigh, shin, upper arm, ...), and to the front or back half of
that segment by the side of the bone it lies on in the rest pose (the head: right or left
half). UV charts are cylindrical around each segment's bone, with the same conventions as
the open model (``ptx.body.tubes``): U around the bone over each half, V along it.

BODY_25 keypoints are SMPL joints where they correspond, and for the official 6890-vertex
mesh the vertices usually used for nose, eyes, ears, toes and heels; other meshes get the
nearest vertices to points placed relative to their joints. SMPL's pelvis and hip joints
sit higher and further in than OpenPose's hips, so those keypoints count half.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ptx.body import parts as P
from ptx.body.model import BodyModel
from ptx.body.smpl_file import read_smpl_file
from ptx.body.tubes import orient_outward
from ptx.errors import InputError
from ptx.io.openpose import BODY_25

N_BETAS = 10
"""Shape coefficients kept (the open model's count)."""

_X, _Y, _Z = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
_NX = (-1.0, 0.0, 0.0)
# joint -> (first part, second part, bone from, bone to, side axis, front axis)
_SEGMENT = {
    **{j: (*P.TORSO, 0, 12, _X, _Z) for j in (0, 3, 6, 9, 13, 14)},
    **{j: (*P.HEAD, 12, 15, _Z, _X) for j in (12, 15)},
    1: (*P.LEFT_UPPER_LEG, 1, 4, _X, _Z),
    2: (*P.RIGHT_UPPER_LEG, 2, 5, _NX, _Z),
    4: (*P.LEFT_LOWER_LEG, 4, 7, _X, _Z),
    5: (*P.RIGHT_LOWER_LEG, 5, 8, _NX, _Z),
    **{j: (*P.LEFT_FOOT, 7, 10, _X, _Y) for j in (7, 10)},
    **{j: (*P.RIGHT_FOOT, 8, 11, _NX, _Y) for j in (8, 11)},
    16: (*P.LEFT_UPPER_ARM, 16, 18, _Y, _Z),
    17: (*P.RIGHT_UPPER_ARM, 17, 19, _Y, _Z),
    18: (*P.LEFT_LOWER_ARM, 18, 20, _Y, _Z),
    19: (*P.RIGHT_LOWER_ARM, 19, 21, _Y, _Z),
    **{j: (*P.LEFT_HAND, 20, 22, _Y, _Z) for j in (20, 22)},
    **{j: (*P.RIGHT_HAND, 21, 23, _Y, _Z) for j in (21, 23)},
}
# part -> (bone from, bone to, side, front, half: +1 first, -1 second, 0 whole)
_PART = {}
for _first, _second, _a, _b, _side, _front in _SEGMENT.values():
    if _first == _second:
        _PART[_first] = (_a, _b, _side, _front, 0)
    else:
        _PART[_first] = (_a, _b, _side, _front, 1)
        _PART[_second] = (_a, _b, _side, _front, -1)

_KP_JOINT = {
    "Neck": 12, "RShoulder": 17, "RElbow": 19, "RWrist": 21, "LShoulder": 16, "LElbow": 18,
    "LWrist": 20, "MidHip": 0, "RHip": 2, "RKnee": 5, "RAnkle": 8, "LHip": 1, "LKnee": 4,
    "LAnkle": 7,
}  # fmt: skip
_KP_HALF = ("MidHip", "RHip", "LHip")
SMPL_KP_VERTEX = {
    "Nose": 332, "REye": 6260, "LEye": 2800, "REar": 4071, "LEar": 583, "LBigToe": 3216,
    "LSmallToe": 3226, "LHeel": 3387, "RBigToe": 6617, "RSmallToe": 6624, "RHeel": 6787,
}  # fmt: skip
"""Vertices of the official 6890-vertex SMPL mesh used for OpenPose's face and feet points."""
# fallback: (joint, offset in metres) whose nearest vertex stands in for the keypoint
_KP_NEAR = {
    "Nose": (15, (0.0, 0.02, 0.12)),
    "REye": (15, (-0.035, 0.06, 0.1)),
    "LEye": (15, (0.035, 0.06, 0.1)),
    "REar": (15, (-0.08, 0.03, 0.0)),
    "LEar": (15, (0.08, 0.03, 0.0)),
    "LBigToe": (10, (-0.02, -0.02, 0.08)),
    "LSmallToe": (10, (0.03, -0.02, 0.06)),
    "LHeel": (7, (0.0, -0.07, -0.08)),
    "RBigToe": (11, (0.02, -0.02, 0.08)),
    "RSmallToe": (11, (-0.03, -0.02, 0.06)),
    "RHeel": (8, (0.0, -0.07, -0.08)),
}


def _chart_angle(points: np.ndarray, joints: np.ndarray, a: int, b: int, side, front):
    """t along bone a->b and angle around it, for points (N, 3)."""
    d = joints[b] - joints[a]
    d = d / max(np.linalg.norm(d), 1e-9)
    s = np.asarray(side) - np.dot(side, d) * d
    s /= max(np.linalg.norm(s), 1e-9)
    f = np.asarray(front) - np.dot(front, d) * d - np.dot(front, s) * s
    f /= max(np.linalg.norm(f), 1e-9)
    rel = points - joints[a]
    return rel @ d, np.arctan2(rel @ f, rel @ s)


def assign_parts(verts: np.ndarray, weights: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """uint8 (V,) DensePose part of each rest vertex."""
    dominant = weights.argmax(1)
    part = np.zeros(len(verts), np.uint8)
    for j in range(P.N_JOINTS):
        sel = dominant == j
        if not sel.any():
            continue
        first, second, a, b, side, front = _SEGMENT[j]
        _, theta = _chart_angle(verts[sel], joints, a, b, side, front)
        part[sel] = np.where(theta >= 0, first, second)
    return part


def chart_uv(points: np.ndarray, part: np.ndarray, joints: np.ndarray, v_range) -> np.ndarray:
    """float32 (N, 2) (U, V) of ``points`` (N, 3) in the charts of ``part`` (N,)."""
    uv = np.zeros((len(points), 2), np.float32)
    for pid in np.unique(part):
        sel = part == pid
        a, b, side, front, half = _PART[int(pid)]
        t, theta = _chart_angle(points[sel], joints, a, b, side, front)
        if half == 0:
            u = np.mod(theta, 2 * np.pi) / (2 * np.pi)
        else:
            u = np.clip(half * theta / np.pi, 0, 1)
        lo, hi = v_range[int(pid)]
        uv[sel, 0] = u
        uv[sel, 1] = np.clip((t - lo) / max(hi - lo, 1e-6), 0, 1)
    return uv


def _face_charts(verts, faces, vpart, joints):
    """Part per face (majority of its corners) and per-corner UV in that part's chart."""
    fp = vpart[faces]
    face_part = np.where(fp[:, 1] == fp[:, 2], fp[:, 1], fp[:, 0]).astype(np.uint8)
    v_range = {}
    for pid in range(1, P.N_PARTS + 1):
        a, b, side, front, _ = _PART[pid]
        own = verts[vpart == pid]
        t = _chart_angle(own, joints, a, b, side, front)[0] if len(own) else np.zeros(1)
        v_range[pid] = (float(t.min()), float(t.max()))
    corner_part = np.repeat(face_part, 3)
    uv = chart_uv(verts[faces.reshape(-1)], corner_part, joints, v_range).reshape(-1, 3, 2)
    whole = np.isin(face_part, [pid for pid, v in _PART.items() if v[4] == 0])
    u = uv[whole, :, 0]
    wrap = (u.max(1, keepdims=True) - u > 0.5) & (u < 0.5)
    uv[whole, :, 0] = np.where(wrap, u + 1.0, u)
    return face_part, uv


def _keypoints(verts: np.ndarray, joints: np.ndarray) -> tuple[list, list, list]:
    official = len(verts) == 6890
    index, is_joint, weight = [], [], []
    for name in BODY_25:
        if name in _KP_JOINT:
            index.append(_KP_JOINT[name])
            is_joint.append(True)
        elif official:
            index.append(SMPL_KP_VERTEX[name])
            is_joint.append(False)
        else:
            j, off = _KP_NEAR[name]
            index.append(int(np.linalg.norm(verts - (joints[j] + off), axis=1).argmin()))
            is_joint.append(False)
        weight.append(0.5 if name in _KP_HALF else 1.0)
    return index, is_joint, weight


def smpl_body_model(path: Path) -> BodyModel:
    """Build a :class:`BodyModel` from an SMPL ``.pkl`` or ``.npz`` file."""
    d = read_smpl_file(path)
    v = np.asarray(d["v_template"], np.float64)
    n_v = len(v)
    parents = np.asarray(d["kintree_table"])[0].astype(np.int64)
    if len(parents) != P.N_JOINTS:
        raise InputError(
            f"{path} has {len(parents)} joints; ptx reads SMPL's 24-joint body model.",
            "Use an SMPL (not SMPL-H or SMPL-X) model file.",
        )
    parents[0] = -1
    sd = np.asarray(d["shapedirs"], np.float64).reshape(n_v, 3, -1)
    shapedirs = np.zeros((n_v, 3, N_BETAS))
    k = min(N_BETAS, sd.shape[2])
    shapedirs[:, :, :k] = sd[:, :, :k]
    jreg = np.asarray(d["J_regressor"], np.float64)
    if jreg.shape != (P.N_JOINTS, n_v):
        raise InputError(f"{path}: J_regressor has shape {jreg.shape}, not (24, {n_v}).")
    joints = jreg @ v
    faces = np.asarray(d["f"], np.int64)
    if not orient_outward(v, faces):
        faces = faces[:, [0, 2, 1]]
    weights = np.asarray(d["weights"], np.float64)
    vpart = assign_parts(v, weights, joints)
    face_part, face_uv = _face_charts(v, faces, vpart, joints)
    posedirs = d.get("posedirs")
    if posedirs is not None:
        posedirs = np.asarray(posedirs, np.float32).reshape(n_v, 3, -1)
    kp_index, kp_joint, kp_weight = _keypoints(v, joints)
    return BodyModel(
        name=f"smpl:{path.name}",
        v_template=v.astype(np.float32),
        shapedirs=shapedirs.astype(np.float32),
        j_template=joints.astype(np.float32),
        j_shapedirs=np.einsum("jv,vcb->jcb", jreg, shapedirs).astype(np.float32),
        weights=(weights / weights.sum(1, keepdims=True)).astype(np.float32),
        faces=faces.astype(np.int32),
        face_part=face_part,
        face_uv=face_uv.astype(np.float32),
        kp_index=np.array(kp_index, np.int64),
        kp_is_joint=np.array(kp_joint, bool),
        kp_weight=np.array(kp_weight, np.float32),
        posedirs=posedirs,
        parents=parents,
    )
