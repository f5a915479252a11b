"""A tiny analytic "paper-doll" subject with exact IUV, 3D labels, masks and flow.

Tests and benchmarks of the trainer need a subject now, not after the preprocessing
stages exist, and they need ground truth. This draws a 2D articulated figure of capsules
(torso, head, upper/lower arms and legs, each a DensePose part with its own UV chart and a
procedural texture) over a static textured background. Its appearance has pose-dependent
detail a static texture cannot hold: dark folds at the elbows and knees that deepen with
the bend, and torso shading that follows the arms' elevation.

Arrays follow DESIGN.md: frames/poselabel/label3d/iuv uint8 (T, S, S, 3), mask uint8
(T, S, S), background uint8 (S, S, 3), flow float16 (T, S, S, 2) from t to t-1 in pixels
(frame 0: zero, invalid), flow_valid uint8 (T, S, S) 0/1, keypoints float32 (T, 25, 3)
BODY_25 in pixels (the figure's joints; nose, eyes and ears on its face; no feet points).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# bone: (name, parent joint, child joint, radius as a fraction of the size, DensePose part)
_BONES = (
    ("thigh_l", "hip_l", "knee_l", 0.040, 8),
    ("shin_l", "knee_l", "ankle_l", 0.034, 12),
    ("thigh_r", "hip_r", "knee_r", 0.040, 7),
    ("shin_r", "knee_r", "ankle_r", 0.034, 11),
    ("torso", "pelvis", "neck", 0.085, 2),
    ("head", "neck", "crown", 0.060, 23),
    ("upper_l", "shoulder_l", "elbow_l", 0.030, 16),
    ("fore_l", "elbow_l", "wrist_l", 0.026, 20),
    ("upper_r", "shoulder_r", "elbow_r", 0.030, 15),
    ("fore_r", "elbow_r", "wrist_r", 0.026, 19),
)
"""Drawn in this order (later bones cover earlier ones)."""

_SKELETON = (
    ("pelvis", "neck"),
    ("neck", "crown"),
    ("shoulder_l", "shoulder_r"),
    ("hip_l", "hip_r"),
    ("shoulder_l", "elbow_l"),
    ("elbow_l", "wrist_l"),
    ("shoulder_r", "elbow_r"),
    ("elbow_r", "wrist_r"),
    ("hip_l", "knee_l"),
    ("knee_l", "ankle_l"),
    ("hip_r", "knee_r"),
    ("knee_r", "ankle_r"),
)
"""Limbs of the skeleton image, each drawn in its own colour."""


@dataclass
class ToySubject:
    """The arrays of one synthetic video (see the module docstring for shapes)."""

    frames: np.ndarray
    poselabel: np.ndarray
    label3d: np.ndarray
    iuv: np.ndarray
    mask: np.ndarray
    background: np.ndarray
    flow: np.ndarray
    flow_valid: np.ndarray
    joints: dict[str, np.ndarray]
    """Joint name -> float32 (T, 2) pixel positions (x, y)."""
    keypoints: np.ndarray
    """float32 (T, 25, 3): the joints as BODY_25 keypoints (x, y, confidence)."""

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays under the names the preparation stages give them."""
        return {
            "frames": self.frames,
            "poselabel": self.poselabel,
            "label3d": self.label3d,
            "iuv": self.iuv,
            "mask": self.mask,
            "background": self.background,
            "flow": self.flow,
            "flow_valid": self.flow_valid,
            "keypoints": self.keypoints,
        }


def _angles(t: np.ndarray, phase: np.ndarray) -> dict[str, np.ndarray]:
    w1, w2, w3 = 2 * np.pi / 23.0, 2 * np.pi / 17.0, 2 * np.pi / 29.0
    return {
        "sway": 0.04 * np.sin(w3 * t + phase[0]),
        "lean": 0.10 * np.sin(w1 * t + phase[1]),
        "shoulder_l": -0.5 - 1.3 * (0.5 + 0.5 * np.sin(w1 * t + phase[2])),
        "shoulder_r": 0.5 + 1.3 * (0.5 + 0.5 * np.sin(w2 * t + phase[3])),
        "elbow_l": -1.6 * (0.5 + 0.5 * np.sin(w2 * t + phase[4])),
        "elbow_r": 1.6 * (0.5 + 0.5 * np.sin(w3 * t + phase[5])),
        "hip_l": -0.1 - 0.35 * np.sin(w1 * t + phase[6]),
        "hip_r": 0.1 + 0.35 * np.sin(w1 * t + phase[6]),
        "knee_l": 0.9 * (0.5 + 0.5 * np.sin(w2 * t + phase[7])),
        "knee_r": -0.9 * (0.5 + 0.5 * np.sin(w3 * t + phase[7])),
    }


def _direction(theta: np.ndarray) -> np.ndarray:
    """Unit vector at angle theta from straight down (y grows downwards): (T, 2)."""
    return np.stack([np.sin(theta), np.cos(theta)], axis=-1)


def _joints(n: int, size: int, phase: np.ndarray) -> dict[str, np.ndarray]:
    t = np.arange(n, dtype=np.float64)
    a = _angles(t, phase)
    s = float(size)
    j: dict[str, np.ndarray] = {}
    j["pelvis"] = np.stack([(0.5 + a["sway"]) * s, np.full(n, 0.56 * s)], axis=-1)
    up = -_direction(a["lean"])
    j["neck"] = j["pelvis"] + 0.22 * s * up
    j["crown"] = j["neck"] + 0.11 * s * up
    side = np.stack([up[:, 1], -up[:, 0]], axis=-1)  # perpendicular to the spine
    j["shoulder_l"] = j["neck"] + 0.085 * s * side
    j["shoulder_r"] = j["neck"] - 0.085 * s * side
    j["hip_l"] = j["pelvis"] + 0.05 * s * side
    j["hip_r"] = j["pelvis"] - 0.05 * s * side
    for k in ("l", "r"):
        sh, el = a[f"shoulder_{k}"], a[f"elbow_{k}"]
        j[f"elbow_{k}"] = j[f"shoulder_{k}"] + 0.13 * s * _direction(sh)
        j[f"wrist_{k}"] = j[f"elbow_{k}"] + 0.12 * s * _direction(sh + el)
        hp, kn = a[f"hip_{k}"], a[f"knee_{k}"]
        j[f"knee_{k}"] = j[f"hip_{k}"] + 0.17 * s * _direction(hp)
        j[f"ankle_{k}"] = j[f"knee_{k}"] + 0.16 * s * _direction(hp + kn)
    return j


def _capsule(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray, r: float):
    """For points (px, py) and the capsule a-b of radius r: (inside, s along a->b, signed
    perpendicular distance / r)."""
    d = b - a
    length2 = max(float(d @ d), 1e-9)
    s = ((px - a[0]) * d[0] + (py - a[1]) * d[1]) / length2
    sc = np.clip(s, 0.0, 1.0)
    dx, dy = px - (a[0] + sc * d[0]), py - (a[1] + sc * d[1])
    inside = dx * dx + dy * dy <= r * r
    perp = ((px - a[0]) * d[1] - (py - a[1]) * d[0]) / np.sqrt(length2) / r
    return inside, s, perp


def _pattern(part: int, u: np.ndarray, v: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Procedural texture of a part at chart coordinates u, v in [0, 1]: float (N, 3)."""
    base = palette[part]
    stripes = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * (3 * v + (part % 3) * u)))
    checker = ((np.floor(u * 4) + np.floor(v * 4)) % 2)[:, None]
    if part == 23:  # a face: two dark eyes
        eyes = ((np.abs(u - 0.3) < 0.1) | (np.abs(u - 0.7) < 0.1)) & (np.abs(v - 0.6) < 0.08)
        return base * (1.0 - 0.7 * eyes[:, None])
    return base * (0.75 + 0.25 * stripes[:, None]) * (0.85 + 0.15 * checker)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.zeros((size, size, 3))
    for c in range(3):
        fx, fy, ph = rng.uniform(1, 4), rng.uniform(1, 4), rng.uniform(0, 2 * np.pi)
        img[..., c] = 0.45 + 0.2 * np.sin(2 * np.pi * (fx * x + fy * y) + ph)
    img[y > 0.8] *= 0.7  # a floor
    for _ in range(4):
        x0, y0 = rng.uniform(0, 0.8, 2)
        w, h = rng.uniform(0.05, 0.2, 2)
        img[(x > x0) & (x < x0 + w) & (y > y0) & (y < y0 + h)] = rng.uniform(0.1, 0.9, 3)
    return np.clip(img, 0, 1)


def make_toy_subject(
    frames: int = 60, size: int = 64, seed: int = 0, supersample: int = 2
) -> ToySubject:
    """Render ``frames`` frames of the paper-doll subject at ``size`` px (seeded)."""
    rng = np.random.default_rng(seed)
    palette = rng.uniform(0.25, 0.95, (25, 3))
    palette[23] = (0.93, 0.76, 0.62)  # skin
    phase = rng.uniform(0, 2 * np.pi, 8)
    joints = _joints(frames, size, phase)
    bg = _background(size, rng)
    ss = supersample
    hi = size * ss
    coords = (np.arange(hi) + 0.5) / ss  # pixel-unit coordinates of the subsamples
    px, py = np.meshgrid(coords, coords)
    cx = (np.arange(size) + 0.5)[None, :].repeat(size, 0)
    cy = (np.arange(size) + 0.5)[:, None].repeat(size, 1)
    limb_colours = rng.uniform(0.2, 1.0, (len(_SKELETON), 3))
    out = {
        "frames": np.zeros((frames, size, size, 3), np.uint8),
        "poselabel": np.zeros((frames, size, size, 3), np.uint8),
        "label3d": np.zeros((frames, size, size, 3), np.uint8),
        "iuv": np.zeros((frames, size, size, 3), np.uint8),
        "mask": np.zeros((frames, size, size), np.uint8),
        "flow": np.zeros((frames, size, size, 2), np.float16),
        "flow_valid": np.zeros((frames, size, size), np.uint8),
    }
    bone_at_centre = np.full((frames, size, size), -1, np.int16)
    angles = _angles(np.arange(frames, dtype=np.float64), phase)
    for t in range(frames):
        colour = np.repeat(np.repeat(bg, ss, 0), ss, 1).copy()
        person = np.zeros((hi, hi), bool)
        centre = np.full((size, size), -1, np.int16)
        iuv = np.zeros((size, size, 3), np.uint8)
        l3d = np.zeros((size, size, 3), np.uint8)
        for b, (name, j0, j1, radius, part) in enumerate(_BONES):
            a, e, r = joints[j0][t], joints[j1][t], radius * size
            inside, s, perp = _capsule(px, py, a, e, r)
            u = np.clip(0.5 + 0.5 * perp, 0, 1)
            v = np.clip(s, 0, 1)
            rgb = _pattern(part, u[inside], v[inside], palette)
            rgb = rgb * _detail(name, angles, t, u[inside], v[inside])[:, None]
            colour[inside] = rgb
            person |= inside
            c_in, c_s, c_perp = _capsule(cx, cy, a, e, r)
            centre[c_in] = b
            cu = np.clip(0.5 + 0.5 * c_perp, 0, 1)
            iuv[c_in] = np.stack(
                [np.full(c_in.sum(), part), cu[c_in] * 255, np.clip(c_s[c_in], 0, 1) * 255], -1
            ).round()
            d = e - a
            normal = np.array([d[1], -d[0]]) / max(np.linalg.norm(d), 1e-9)
            p = np.clip(c_perp[c_in], -1, 1)
            l3d[c_in] = (
                np.stack(
                    [0.5 + 0.5 * p * normal[0], 0.5 + 0.5 * p * normal[1], np.sqrt(1 - p * p)],
                    -1,
                )
                * 255
            ).round()
        frame = colour.reshape(size, ss, size, ss, 3).mean((1, 3))
        out["frames"][t] = np.clip(frame * 255 + 0.5, 0, 255)
        out["mask"][t] = np.clip(
            person.reshape(size, ss, size, ss).mean((1, 3)) * 255 + 0.5, 0, 255
        )
        out["iuv"][t], out["label3d"][t] = iuv, l3d
        bone_at_centre[t] = centre
        out["poselabel"][t] = _skeleton_image(joints, t, size, cx, cy, limb_colours)
    _flow(joints, bone_at_centre, cx, cy, size, out)
    return ToySubject(
        background=np.clip(bg * 255 + 0.5, 0, 255).astype(np.uint8),
        joints={k: v.astype(np.float32) for k, v in joints.items()},
        keypoints=_body25(joints, size),
        **out,
    )


_BODY25 = {1: "neck", 2: "shoulder_r", 3: "elbow_r", 4: "wrist_r", 5: "shoulder_l",
           6: "elbow_l", 7: "wrist_l", 8: "pelvis", 9: "hip_r", 10: "knee_r", 11: "ankle_r",
           12: "hip_l", 13: "knee_l", 14: "ankle_l"}  # fmt: skip
"""BODY_25 index -> the figure's joint."""


def _body25(joints: dict[str, np.ndarray], size: int) -> np.ndarray:
    """BODY_25 keypoints (T, 25, 3): the joints, and on the head capsule the nose (half way
    up), the eyes (where the face texture draws them) and the ears (at its sides)."""
    n = len(joints["neck"])
    kp = np.zeros((n, 25, 3), np.float32)
    for i, name in _BODY25.items():
        kp[:, i, :2], kp[:, i, 2] = joints[name], 1.0
    neck, crown = joints["neck"], joints["crown"]
    d = crown - neck
    normal = np.stack([d[:, 1], -d[:, 0]], -1) / np.maximum(
        np.linalg.norm(d, axis=-1, keepdims=True), 1e-9
    )
    r = 0.060 * size  # the head's radius (_BONES)
    at = {0: (0.5, 0.0), 15: (0.6, 0.4), 16: (0.6, -0.4), 17: (0.6, 0.9), 18: (0.6, -0.9)}
    for i, (along, across) in at.items():
        kp[:, i, :2] = neck + along * d + across * r * normal
        kp[:, i, 2] = 1.0
    return kp


def _detail(name: str, a: dict[str, np.ndarray], t: int, u: np.ndarray, v: np.ndarray):
    """Pose-dependent brightness: folds near bent elbows/knees, torso shading by the arms."""
    if name == "torso":
        lift_l = np.clip((-a["shoulder_l"][t] - 0.5) / 1.3, 0, 1)
        lift_r = np.clip((a["shoulder_r"][t] - 0.5) / 1.3, 0, 1)
        return 1.0 - 0.6 * lift_l * u - 0.6 * lift_r * (1 - u)
    joint = {"upper": "elbow", "fore": "elbow", "thigh": "knee", "shin": "knee"}.get(
        name.split("_")[0]
    )
    if joint is None:
        return np.ones_like(u)
    side = name.split("_")[1]
    bend = abs(a[f"{joint}_{side}"][t]) / (1.6 if joint == "elbow" else 0.9)
    near = v if name.startswith(("upper", "thigh")) else 1 - v  # 1 at the bending joint
    folds = 0.5 + 0.5 * np.cos(2 * np.pi * 4 * near)
    return 1.0 - 0.7 * bend * folds * np.clip(near - 0.2, 0, 1) / 0.8


def _skeleton_image(joints, t, size, cx, cy, colours) -> np.ndarray:
    img = np.zeros((size, size, 3), np.float64)
    width = max(1.0, size / 64.0)
    for (j0, j1), c in zip(_SKELETON, colours, strict=True):
        inside, _, _ = _capsule(cx, cy, joints[j0][t], joints[j1][t], width)
        img[inside] = c
    return (img * 255).round().astype(np.uint8)


def _flow(joints, bone_at_centre, cx, cy, size, out) -> None:
    """Exact flow t -> t-1 of the pixel centres, valid where the same surface is visible."""
    for t in range(1, bone_at_centre.shape[0]):
        fx, fy = np.zeros((size, size)), np.zeros((size, size))
        cur = bone_at_centre[t]
        for b, (_, j0, j1, _, _) in enumerate(_BONES):
            sel = cur == b
            if not sel.any():
                continue
            a, e = joints[j0][t], joints[j1][t]
            d = e - a
            length = max(np.linalg.norm(d), 1e-9)
            n = np.array([d[1], -d[0]]) / length
            s = ((cx[sel] - a[0]) * d[0] + (cy[sel] - a[1]) * d[1]) / length**2
            off = (cx[sel] - a[0]) * n[0] + (cy[sel] - a[1]) * n[1]
            a0, e0 = joints[j0][t - 1], joints[j1][t - 1]
            d0 = e0 - a0
            n0 = np.array([d0[1], -d0[0]]) / max(np.linalg.norm(d0), 1e-9)
            x0 = a0[0] + s * d0[0] + off * n0[0]
            y0 = a0[1] + s * d0[1] + off * n0[1]
            fx[sel], fy[sel] = x0 - cx[sel], y0 - cy[sel]
        out["flow"][t] = np.stack([fx, fy], -1).astype(np.float16)
        tx = np.floor(cx + fx).astype(int)
        ty = np.floor(cy + fy).astype(int)
        ok = (tx >= 0) & (tx < size) & (ty >= 0) & (ty < size)
        prev = np.full((size, size), -2, np.int16)
        prev[ok] = bone_at_centre[t - 1][ty[ok], tx[ok]]
        out["flow_valid"][t] = (ok & (prev == cur)).astype(np.uint8)
