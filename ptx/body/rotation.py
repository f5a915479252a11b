"""Rotations in torch: axis-angle vectors to matrices, smooth at zero (for gradients)."""

from __future__ import annotations

import math

import numpy as np
import torch


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula. ``aa``: (..., 3) axis times angle in radians -> (..., 3, 3).

    Uses Taylor series near zero so that the value and its gradient stay exact there."""
    theta2 = (aa * aa).sum(-1, keepdim=True)[..., None]  # (..., 1, 1)
    small = theta2 < 1e-6
    safe2 = torch.where(small, torch.ones_like(theta2), theta2)
    theta = safe2.sqrt()
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / safe2)
    x, y, z = aa.unbind(-1)
    zero = torch.zeros_like(x)
    k = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*aa.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)
    # k @ k = aa aa^T - theta^2 I, written out: a batched matmul of 3 x 3 matrices is slow
    outer = aa[..., :, None] * aa[..., None, :]
    return eye * (1.0 - b * theta2) + a * k + b * outer


def matrix_to_axis_angle(rot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`axis_angle_to_matrix` in numpy: (..., 3, 3) -> (..., 3), angles in
    [0, pi]."""
    rot = np.asarray(rot, dtype=np.float64)
    cos = np.clip((np.trace(rot, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    vec = np.stack(
        [
            rot[..., 2, 1] - rot[..., 1, 2],
            rot[..., 0, 2] - rot[..., 2, 0],
            rot[..., 1, 0] - rot[..., 0, 1],
        ],
        -1,
    )
    sin = np.sin(angle)
    out = np.zeros(rot.shape[:-2] + (3,))
    regular = sin > 1e-6
    out[regular] = vec[regular] * (angle[regular] / (2.0 * sin[regular]))[..., None]
    near_pi = ~regular & (angle > 1.0)
    if near_pi.any():  # axis from the diagonal of (R + I) / 2 = a a^T
        sym = (rot[near_pi] + np.eye(3)) / 2.0
        idx = np.argmax(np.diagonal(sym, axis1=-2, axis2=-1), -1)
        axis = sym[np.arange(len(idx)), :, idx]
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        out[near_pi] = axis * angle[near_pi, None]
    return out


def rotation_np(axis: str, angle: float) -> np.ndarray:
    """A 3x3 rotation about ``x``, ``y`` or ``z`` by ``angle`` radians (numpy)."""
    c, s = math.cos(angle), math.sin(angle)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
