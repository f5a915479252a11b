"""Pose-label encodings: how a frame's conditions become network input channels.

Each encoding is a :class:`PoseEncoding` built here and declared by a method; training
and rendering call the same one, so the two can never disagree. Inputs are the prepared
arrays at the model size as uint8 (n, C, H, W) (and ``keypoints`` as float
(n, K, 3) in model pixels); outputs are float (n, channels, H, W) in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PoseEncoding:
    """How one frame's conditions become network channels (used by training AND
    rendering, so the two can never disagree)."""

    arrays: tuple[str, ...]
    """Per-frame inputs it reads: prepared image arrays (uint8 (n, C, H, W) at the model
    size) and/or ``keypoints`` (float (n, K, 3) in model pixels)."""
    channels: int
    """Channels per frame it produces."""
    encode: Callable[[dict[str, torch.Tensor]], torch.Tensor]
    """inputs -> float (n, channels, H, W) in [-1, 1]."""

    def __call__(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encode(inputs)


IMAGE_CHANNELS = {"poselabel": 3, "label3d": 3, "iuv": 3, "frames": 3, "mask": 1}
"""Channels of the prepared image arrays an encoding can stack."""


def unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [-1, 1] (in place after the conversion: no extra buffers)."""
    return x.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)


def image_stack(names: tuple[str, ...]) -> PoseEncoding:
    """Prepared images stacked along channels, in ``names`` order (D2G-Net's pose label is
    ``("poselabel", "label3d")``: the skeleton image and the 3D label)."""
    unknown = [n for n in names if n not in IMAGE_CHANNELS]
    if unknown or not names:
        raise ValueError(f"image_stack: cannot stack {unknown or 'nothing'}")

    def encode(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [inputs[n] for n in names]
        return unit(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))

    return PoseEncoding(tuple(names), sum(IMAGE_CHANNELS[n] for n in names), encode)


def bone_stack(
    bones: tuple[tuple[int, int], ...],
    size: tuple[int, int],
    radius: float,
    min_confidence: float = 0.1,
) -> PoseEncoding:
    """One bone per channel (Textured Neural Avatars' input; Ren et al.'s limb maps): bone
    ``i`` = joints ``bones[i]`` of the ``keypoints`` rasterised into channel ``i`` of a
    ``size`` = (H, W) picture, 1 on the segment falling linearly to 0 at ``radius`` pixels
    from it, then mapped to [-1, 1] (-1: no bone). A bone whose joints are missing (a
    confidence at or below ``min_confidence``, or fewer keypoint rows than its joints) leaves
    its channel at -1. Pixel ``i`` is sampled at its centre ``i + 0.5``, as keypoints are
    placed (``ptx.body.skeleton``)."""
    if radius <= 0 or not bones:
        raise ValueError("bone_stack needs bones and a positive radius")
    h, w = size

    def encode(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        kp = inputs["keypoints"].float()
        n, k = kp.shape[:2]
        ys = torch.arange(h, device=kp.device, dtype=torch.float32).add_(0.5).view(1, h, 1)
        xs = torch.arange(w, device=kp.device, dtype=torch.float32).add_(0.5).view(1, 1, w)
        out = torch.full((n, len(bones), h, w), -1.0, device=kp.device)
        for i, (ja, jb) in enumerate(bones):
            if max(ja, jb) >= k:
                continue
            a, b = kp[:, ja], kp[:, jb]
            ok = (a[:, 2] > min_confidence) & (b[:, 2] > min_confidence)
            ax, ay = a[:, 0].view(n, 1, 1), a[:, 1].view(n, 1, 1)
            dx, dy = (b[:, 0] - a[:, 0]).view(n, 1, 1), (b[:, 1] - a[:, 1]).view(n, 1, 1)
            length2 = (dx * dx + dy * dy).clamp_min(1e-9)
            t = (((xs - ax) * dx + (ys - ay) * dy) / length2).clamp_(0.0, 1.0)
            dist = torch.hypot(xs - (ax + t * dx), ys - (ay + t * dy))
            value = (1.0 - dist / radius).clamp_(0.0, 1.0) * ok.view(n, 1, 1)
            out[:, i] = value * 2.0 - 1.0
        return out

    return PoseEncoding(("keypoints",), len(bones), encode)


def keypoint_heatmaps(
    size: tuple[int, int],
    sigma: float,
    joints: tuple[int, ...] | None = None,
    min_confidence: float = 0.1,
) -> PoseEncoding:
    """One Gaussian heatmap per joint (BDMM's structural pose map: OpenPose COCO-18, the
    authors' code draws exp(-d^2 / (2 sigma^2)) with sigma = 6 px at 256 px): channel ``i``
    peaks at 1 on joint ``joints[i]`` of the ``keypoints`` (BODY_25 rows), mapped to
    [-1, 1] (-1: far from the joint, or the joint missing: a confidence at or below
    ``min_confidence``, or fewer keypoint rows). ``joints`` defaults to COCO-18 in
    OpenPose's order, from BODY_25 ``ptx.io.openpose.COCO_18_TO_BODY_25``: Nose, Neck,
    RShoulder, RElbow, RWrist, LShoulder, LElbow, LWrist, RHip, RKnee, RAnkle, LHip,
    LKnee, LAnkle, REye, LEye, REar, LEar (BODY_25's MidHip and six foot points dropped).
    Pixel ``i`` is sampled at its centre ``i + 0.5``."""
    if sigma <= 0:
        raise ValueError("keypoint_heatmaps needs a positive sigma")
    if joints is None:
        from ptx.io.openpose import COCO_18_TO_BODY_25

        joints = COCO_18_TO_BODY_25
    h, w = size
    index = torch.tensor(joints, dtype=torch.long)

    def encode(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        kp = inputs["keypoints"].float()
        k = kp.shape[1]
        present = index < k
        sel = kp[:, index.clamp(max=k - 1)]  # (n, J, 3)
        ok = (sel[..., 2] > min_confidence) & present.to(kp.device)
        ys = torch.arange(h, device=kp.device, dtype=torch.float32).add_(0.5).view(1, 1, h, 1)
        xs = torch.arange(w, device=kp.device, dtype=torch.float32).add_(0.5).view(1, 1, 1, w)
        dx2 = (xs - sel[..., 0, None, None]).square_()
        dy2 = (ys - sel[..., 1, None, None]).square_()
        g = torch.exp(-(dx2 + dy2) / (2.0 * sigma * sigma)) * ok[..., None, None]
        return g * 2.0 - 1.0

    return PoseEncoding(("keypoints",), len(joints), encode)
