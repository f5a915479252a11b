"""Looks of the synthetic subject: clothing-like part textures, a static textured
background, and shading that changes with the pose.

Textures live in the body's part charts (``ptx.body.tubes``): one square image per
DensePose part, indexed by (V, U). Shading combines a Lambertian light in camera space
with wrinkles: dark bands across a limb near a joint, as deep as that joint is bent, so
that the same texel looks different in different poses (the dynamic detail D2G-Net's
hybrid texture is meant to learn).
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from ptx.body.model import BodyModel
from ptx.body.rotation import rotation_np

TEX = 64
"""Texels per side of each part's texture."""

_SHIRT = (1, 2, 15, 16, 17, 18)
_SLEEVES = (19, 20, 21, 22)
_PANTS = tuple(range(7, 15))
_SKIN = (3, 4)
_SHOES = (5, 6)
_HEAD = (23, 24)

FOLD_JOINTS = (1, 2, 4, 5, 16, 17, 18, 19)
"""Joints whose bend makes wrinkles: hips, knees, shoulders, elbows."""


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def _noise(rng: np.random.Generator, size: int | tuple[int, int], scale: int) -> np.ndarray:
    """Smooth noise in [-1, 1], (H, W) for ``size`` (H, W) or (size, size)."""
    h, w = (size, size) if isinstance(size, int) else size
    small = rng.uniform(-1, 1, (max(2, h // scale), max(2, w // scale))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def part_textures(rng: np.random.Generator) -> np.ndarray:
    """float32 (25, TEX, TEX, 3) RGB in [0, 1]; index by part id (0 unused)."""
    tex = np.zeros((25, TEX, TEX, 3), np.float32)
    v, u = np.mgrid[0:TEX, 0:TEX].astype(np.float32) / (TEX - 1)
    shirt = _hsv(rng.uniform(), rng.uniform(0.45, 0.8), rng.uniform(0.55, 0.85))
    stripe = _hsv(rng.uniform(), rng.uniform(0.2, 0.6), rng.uniform(0.85, 1.0))
    period = rng.uniform(0.12, 0.22)
    pants = [_hsv(0.6, 0.55, 0.45), _hsv(0.1, 0.35, 0.6), _hsv(0.0, 0.0, 0.2)][rng.integers(3)]
    skin = _hsv(rng.uniform(0.04, 0.09), rng.uniform(0.3, 0.55), rng.uniform(0.55, 0.9))
    hair = _hsv(rng.uniform(0.05, 0.12), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.4))
    long_sleeves = rng.uniform() < 0.5
    for pid in range(1, 25):
        grain = 0.06 * _noise(rng, TEX, 2)[..., None] + 0.05 * _noise(rng, TEX, 16)[..., None]
        if pid in _SHIRT or (long_sleeves and pid in _SLEEVES):
            bands = (np.sin(2 * np.pi * v / period) > 0.4)[..., None]
            img = np.where(bands, stripe, shirt)
            if pid == 2:  # a badge on the chest tells front from back
                badge = (np.abs(u - 0.3) < 0.12) & (np.abs(v - 0.72) < 0.08)
                img = np.where(badge[..., None], 1.0 - shirt, img)
            if pid in (1, 2):  # collar
                img = np.where((v > 0.93)[..., None], stripe * 0.6, img)
        elif pid in _PANTS:
            seam = (np.minimum(u, 1 - u) < 0.04)[..., None]
            img = np.where(seam, pants * 0.7, pants) * (1 + 0.08 * np.sin(40 * v)[..., None])
        elif pid in _SHOES:
            sole = ((u > 0.6) & (u < 0.9))[..., None]
            img = np.where(sole, np.float32(0.9), np.float32(0.15)) * np.ones(3, np.float32)
        elif pid in _HEAD:
            back = u > 0.55
            top = v > (0.86 - 0.25 * np.clip((u - 0.35) / 0.3, 0, 1))
            img = np.where((top | (back & (v > 0.45)))[..., None], hair, skin)
            eye = (np.abs(u - 0.15) < 0.05) & (np.abs(v - 0.74) < 0.025)
            mouth = (u < 0.12) & (np.abs(v - 0.56) < 0.012)
            img = np.where((eye | mouth)[..., None], skin * 0.3, img)
        else:
            img = np.broadcast_to(skin, (TEX, TEX, 3))
        tex[pid] = np.clip(img * (1 + grain), 0, 1)
    return tex


def background(rng: np.random.Generator, size: int | tuple[int, int], floor_y: float) -> np.ndarray:
    """uint8 (H, W, 3) for ``size`` (H, W) (or the side of a square): a wall with posters
    and a planked floor below ``floor_y`` (a fraction of the height). Lengths are in units
    of the height, so a wider picture shows more of the same wall."""
    h, w = (size, size) if isinstance(size, int) else size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32) / h
    across = w / h
    wall = _hsv(rng.uniform(), rng.uniform(0.1, 0.35), rng.uniform(0.65, 0.9))
    img = wall * (0.85 + 0.15 * (1 - y))[..., None] * (1 + 0.04 * _noise(rng, (h, w), 8)[..., None])
    for _ in range(int(rng.integers(3, 6))):
        cx, cy = rng.uniform(0.05, 0.95) * across, rng.uniform(0.08, floor_y - 0.15)
        w, h = rng.uniform(0.06, 0.2), rng.uniform(0.06, 0.2)
        col = _hsv(rng.uniform(), rng.uniform(0.4, 0.9), rng.uniform(0.3, 0.95))
        box = (np.abs(x - cx) < w / 2) & (np.abs(y - cy) < h / 2)
        pattern = 0.85 + 0.15 * np.sign(np.sin(60 * (x + y)))[..., None]
        img = np.where(box[..., None], col * pattern, img)
    depth = np.clip((y - floor_y) / (1 - floor_y + 1e-6), 0, 1)
    wood = _hsv(rng.uniform(0.05, 0.1), rng.uniform(0.4, 0.6), rng.uniform(0.45, 0.7))
    planks = 0.85 + 0.15 * np.sin(2 * np.pi * (x - 0.5 * across) / (0.08 + 0.1 * depth) + 0.3)
    floor = wood * planks[..., None] * (0.75 + 0.25 * depth)[..., None]
    img = np.where((y >= floor_y)[..., None], floor, img)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), 0.6)
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def fold_weights(model: BodyModel) -> np.ndarray:
    """float32 (V, len(FOLD_JOINTS)): how close each rest vertex is to each fold joint."""
    d = np.linalg.norm(model.v_template[:, None] - model.j_template[list(FOLD_JOINTS)], axis=2)
    return np.exp(-((d / 0.07) ** 2)).astype(np.float32)


def fold_amount(fold_w: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """float32 (T, V, 1): wrinkle depth per vertex from joint bends; ``pose`` (T, 24, 3)."""
    bend = np.clip(np.linalg.norm(pose[:, list(FOLD_JOINTS)], axis=2) / 1.5, 0, 1)
    return (bend @ fold_w.T)[..., None].astype(np.float32)


LIGHT = (rotation_np("y", 0.5) @ rotation_np("x", 0.6) @ np.array([0.0, 0.0, -1.0])).astype(
    np.float32
)
"""Direction towards the light in camera axes (above, left, in front of the subject)."""


def shade(
    tex: np.ndarray, part: np.ndarray, uv: np.ndarray, normal: np.ndarray, fold: np.ndarray
) -> np.ndarray:
    """float32 (N, 3) colours of N body pixels: ``part`` (N,), ``uv`` (N, 2), ``normal``
    (N, 3) camera axes, ``fold`` (N,)."""
    iu = np.clip((uv[:, 0] * (TEX - 1) + 0.5).astype(np.int64), 0, TEX - 1)
    iv = np.clip((uv[:, 1] * (TEX - 1) + 0.5).astype(np.int64), 0, TEX - 1)
    albedo = tex[part, iv, iu]
    lambert = np.clip(normal @ LIGHT, 0, 1)
    spec = np.clip(normal @ LIGHT, 0, 1) ** 12 * 0.15
    wrinkle = 1 - 0.45 * np.clip(fold, 0, 1) * (0.5 + 0.5 * np.sin(2 * np.pi * 9 * uv[:, 1]))
    light = (0.42 + 0.58 * lambert) * wrinkle
    return albedo * light[:, None] + spec[:, None]
