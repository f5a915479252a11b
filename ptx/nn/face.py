"""Face boxes from body keypoints, and cutting / pasting them (Everybody Dance Now's face
GAN works on a square crop around the face).

A frame's box is centred on the mean of its confident face keypoints (BODY_25's nose,
eyes and ears: :data:`FACE_JOINTS`) and kept inside the frame; its side is a fixed
fraction of the frame height (EDN: 128 px boxes at 512 px high frames), rounded to what the
face networks need. A frame with no confident face keypoint has no box: nothing is cut
from it and nothing pasted onto it. Images are (B, C, H, W); H and W are read from them.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

FACE_JOINTS = (0, 15, 16, 17, 18)
"""BODY_25 Nose, REye, LEye, REar, LEar."""


def face_side(height: int, fraction: float, multiple: int) -> int:
    """The box side for frames ``height`` px high: ``fraction`` of it, rounded to a
    multiple of ``multiple`` (at least ``multiple``)."""
    return max(multiple, round(height * fraction / multiple) * multiple)


def face_boxes(
    keypoints: torch.Tensor, side: int, height: int, width: int, min_confidence: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """``keypoints`` float (B, K, 3) in pixels -> (top-left corners int64 (B, 2) as (y, x),
    found bool (B,)). Boxes lie inside the frame; a frame without face keypoints gets the
    frame's centre (and ``found`` False)."""
    if side > min(height, width):
        raise ValueError(f"a {side}-px face box does not fit a {height}x{width} frame")
    kp = keypoints[:, list(FACE_JOINTS)].float()
    ok = kp[..., 2] > min_confidence
    count = ok.sum(1)
    found = count > 0
    centre = (kp[..., :2] * ok.unsqueeze(-1)).sum(1) / count.clamp_min(1).unsqueeze(-1)
    centre = torch.where(
        found.unsqueeze(-1), centre, centre.new_tensor([width / 2.0, height / 2.0])
    )
    x = (centre[:, 0] - side / 2.0).round().long().clamp(0, width - side)
    y = (centre[:, 1] - side / 2.0).round().long().clamp(0, height - side)
    return torch.stack([y, x], 1), found


def crop(images: torch.Tensor, boxes: torch.Tensor, side: int) -> torch.Tensor:
    """The boxes' pixels: (B, C, side, side) (differentiable)."""
    rows = boxes.tolist()
    return torch.stack(
        [img[:, y : y + side, x : x + side] for img, (y, x) in zip(images, rows, strict=True)]
    )


def paste_residual(
    images: torch.Tensor, residual: torch.Tensor, boxes: torch.Tensor, found: torch.Tensor
) -> torch.Tensor:
    """``images`` with ``residual`` (B, C, side, side) added inside each found box
    (differentiable in both)."""
    h, w = images.shape[-2:]
    side = residual.shape[-1]
    placed = [
        F.pad(r, (x, w - x - side, y, h - y - side))
        for r, (y, x) in zip(residual, boxes.tolist(), strict=True)
    ]
    gate = found.to(images.dtype).view(-1, 1, 1, 1)
    return images + torch.stack(placed) * gate
