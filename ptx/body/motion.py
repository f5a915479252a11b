"""Procedural motions for the synthetic subject: dance, walk and wave.

Each motion is a smooth periodic function of time with amplitudes and phases drawn from
a seeded generator, returned as body-model parameters: local joint rotations (axis-angle,
rest-pose axes; see ``ptx.body.model``), a body yaw, and a sideways sway. Joints bend
the anatomical way (knees backwards, elbows forwards), so a fit with pose priors can
recover them.
"""

from __future__ import annotations

import numpy as np

from ptx.body.rotation import matrix_to_axis_angle, rotation_np

MOTIONS = ("dance", "walk", "wave")


def _rot(*ops: tuple[str, float]) -> np.ndarray:
    """Product of elementary rotations, applied right to left, as a 3x3 matrix."""
    m = np.eye(3)
    for axis, angle in ops:
        m = m @ rotation_np(axis, float(angle))
    return m


class _Pose:
    """Collects per-frame local rotations as matrices."""

    def __init__(self, n: int) -> None:
        self.rot = np.tile(np.eye(3), (n, 24, 1, 1))

    def set(self, joint: int, t: int, *ops: tuple[str, float]) -> None:
        self.rot[t, joint] = _rot(*ops)

    def axis_angle(self) -> np.ndarray:
        return matrix_to_axis_angle(self.rot).astype(np.float32)


def motion(
    name: str, frames: int, fps: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate ``frames`` of motion ``name``.

    Returns local pose float32 (T, 24, 3) with the root rotation left at zero, body yaw
    float32 (T,) (radians, 0 = facing the camera) and sideways offset float32 (T,) (m)."""
    if name not in MOTIONS:
        raise ValueError(f"unknown motion {name!r}; choose from {', '.join(MOTIONS)}")
    t = np.arange(frames) / fps
    return {"dance": _dance, "walk": _walk, "wave": _wave}[name](t, rng)


def _arms_down(p: _Pose, k: int, left: float = -1.2, right: float = 1.2) -> None:
    p.set(16, k, ("z", left))
    p.set(17, k, ("z", right))
    p.set(18, k, ("y", -0.25))
    p.set(19, k, ("y", 0.25))


def _dance(t: np.ndarray, rng: np.random.Generator):
    n = len(t)
    p = _Pose(n)
    w = 2 * np.pi * rng.uniform(0.55, 0.8)  # beats around 1.2-1.6 s
    ph = rng.uniform(0, 2 * np.pi, 8)
    amp = rng.uniform(0.7, 1.0, 6)
    for k, s in enumerate(t):
        beat = np.sin(w * s + ph[0])
        half = np.sin(0.5 * w * s + ph[1])
        p.set(3, k, ("y", -0.15 * half), ("z", 0.08 * beat))
        p.set(6, k, ("y", -0.1 * half), ("x", 0.05 * beat))
        p.set(9, k, ("z", -0.06 * beat))
        p.set(15, k, ("y", 0.25 * np.sin(0.5 * w * s + ph[2])), ("x", 0.1 * beat))
        raise_l = -1.2 + amp[0] * 0.8 * (0.5 + 0.5 * np.sin(w * s + ph[3]))
        raise_r = 1.2 - amp[1] * 0.8 * (0.5 + 0.5 * np.sin(w * s + ph[4]))
        p.set(16, k, ("z", raise_l), ("y", -0.5 * amp[2] * np.sin(0.5 * w * s + ph[5])))
        p.set(17, k, ("z", raise_r), ("y", 0.5 * amp[3] * np.sin(0.5 * w * s + ph[6])))
        p.set(18, k, ("y", -0.3 - 0.9 * (0.5 + 0.5 * np.sin(w * s + ph[7]))))
        p.set(19, k, ("y", 0.3 + 0.9 * (0.5 + 0.5 * np.sin(w * s + ph[7] + 1.3))))
        knee_l = 0.15 + 0.5 * amp[4] * max(0.0, np.sin(w * s + ph[0]))
        knee_r = 0.15 + 0.5 * amp[5] * max(0.0, -np.sin(w * s + ph[0]))
        p.set(1, k, ("x", -0.6 * knee_l), ("z", 0.08 + 0.06 * half))
        p.set(2, k, ("x", -0.6 * knee_r), ("z", -0.08 + 0.06 * half))
        p.set(4, k, ("x", knee_l))
        p.set(5, k, ("x", knee_r))
        p.set(7, k, ("x", -0.4 * knee_l))
        p.set(8, k, ("x", -0.4 * knee_r))
    yaw = 0.35 * np.sin(0.5 * w * t + ph[1]) + rng.uniform(-0.2, 0.2)
    sway = 0.12 * np.sin(0.5 * w * t + ph[2])
    return p.axis_angle(), yaw.astype(np.float32), sway.astype(np.float32)


def _walk(t: np.ndarray, rng: np.random.Generator):
    n = len(t)
    p = _Pose(n)
    w = 2 * np.pi * rng.uniform(0.8, 1.0)  # strides per second
    ph = rng.uniform(0, 2 * np.pi)
    for k, s in enumerate(t):
        c = np.sin(w * s + ph)
        swing_l, swing_r = 0.45 * c, -0.45 * c
        knee_l = 0.1 + 0.9 * max(0.0, np.sin(w * s + ph + 1.2))
        knee_r = 0.1 + 0.9 * max(0.0, -np.sin(w * s + ph + 1.2))
        p.set(1, k, ("x", -swing_l))
        p.set(2, k, ("x", -swing_r))
        p.set(4, k, ("x", knee_l))
        p.set(5, k, ("x", knee_r))
        p.set(7, k, ("x", 0.15 * c))
        p.set(8, k, ("x", -0.15 * c))
        p.set(3, k, ("y", 0.08 * c))
        p.set(9, k, ("y", -0.1 * c))
        p.set(16, k, ("z", -1.3), ("y", 0.4 * c))
        p.set(17, k, ("z", 1.3), ("y", 0.4 * c))
        p.set(18, k, ("y", -0.35 - 0.2 * max(0.0, -c)))
        p.set(19, k, ("y", 0.35 + 0.2 * max(0.0, c)))
    turn = rng.choice([-1.0, 1.0])
    yaw = turn * (-0.7 + 1.4 * t / max(t[-1], 1e-6))
    sway = 0.03 * np.sin(w * t + ph)
    return p.axis_angle(), yaw.astype(np.float32), sway.astype(np.float32)


def _wave(t: np.ndarray, rng: np.random.Generator):
    n = len(t)
    p = _Pose(n)
    w = 2 * np.pi * rng.uniform(1.2, 1.8)
    ph = rng.uniform(0, 2 * np.pi, 3)
    for k, s in enumerate(t):
        _arms_down(p, k)
        rise = min(1.0, s / 0.6)  # raise the arm over the first 0.6 s
        wave = 0.4 * np.sin(w * s + ph[0]) * rise
        p.set(17, k, ("z", 1.2 - 1.35 * rise), ("x", -1.45 * rise + wave))
        p.set(19, k, ("y", 0.25 + 1.25 * rise))
        p.set(15, k, ("y", 0.15 * np.sin(0.4 * w * s + ph[1])), ("x", 0.08))
        p.set(3, k, ("z", 0.04 * np.sin(0.3 * w * s + ph[2])))
        p.set(4, k, ("x", 0.1))
        p.set(5, k, ("x", 0.1))
    yaw = np.full(n, rng.uniform(-0.3, 0.3))
    sway = 0.02 * np.sin(0.3 * w * t + ph[2])
    return p.axis_angle(), yaw.astype(np.float32), sway.astype(np.float32)
