"""The backward flow warp: ONE convention for the flow stage, the temporal loss and the
temporal metric.

``flow[t]`` holds, for every pixel p of frame t, the displacement (dx, dy) in pixels to where
that point was in frame t-1. Frame t-1 brought to frame t is ``out[p] = prev[p + flow[p]]``,
sampled bilinearly with pixel (i, j)'s centre at coordinates (j, i), the border replicated;
a pixel whose ``p + flow[p]`` falls outside ``[0, W-1] x [0, H-1]`` is not "inside" and
its warped value means nothing. :func:`warp_backward` does this on tensors (for losses and
metrics), :func:`warp_backward_np` on numpy arrays with OpenCV (2x faster on the CPU, for
the flow stage); a test holds them to the same values.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
from torch.nn import functional as F


def warp_backward(image: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``image``: float (B, C, H, W), frame t-1; ``flow``: float (B, 2, H, W), from t to t-1.
    Returns (float32 (B, C, H, W) aligned to frame t, bool (B, 1, H, W) inside)."""
    b, _, h, w = image.shape
    if flow.shape != (b, 2, h, w):
        raise ValueError(f"flow must be (B, 2, H, W) = {(b, 2, h, w)}, got {tuple(flow.shape)}")
    ys, xs = torch.meshgrid(
        torch.arange(h, device=flow.device, dtype=torch.float32),
        torch.arange(w, device=flow.device, dtype=torch.float32),
        indexing="ij",
    )
    x = xs + flow[:, 0].float()
    y = ys + flow[:, 1].float()
    inside = ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).unsqueeze(1)
    # align_corners=False: grid value -1 / +1 are the outer edges of the border pixels
    grid = torch.stack([(x + 0.5) * (2.0 / w) - 1.0, (y + 0.5) * (2.0 / h) - 1.0], dim=-1)
    warped = F.grid_sample(
        image.float(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return warped, inside


@functools.lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel x and y coordinates, float32 (h, w) each (shared: never write into them)."""
    xs = np.broadcast_to(np.arange(w, dtype=np.float32), (h, w)).copy()
    ys = np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, w)).copy()
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def warp_backward_np(image: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image``: (H, W) or (H, W, C), uint8 or float32, frame t-1; ``flow``: float32
    (H, W, 2), from t to t-1. Returns (an array like ``image`` aligned to frame t,
    bool (H, W) inside)."""
    h, w = flow.shape[:2]
    if image.shape[:2] != (h, w):
        raise ValueError(f"image {image.shape[:2]} and flow {flow.shape[:2]} differ")
    xs, ys = _grid(h, w)
    fx, fy = cv2.split(np.ascontiguousarray(flow, np.float32))
    tx, ty = xs + fx, ys + fy
    out = cv2.remap(image, tx, ty, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return out, inside
