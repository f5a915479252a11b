"""Prepared arrays (numpy, channels last, in canonical pixels) -> tensors at a model's frame
size, with one resizing rule per kind of array, shared by training, rendering and scoring.

Sizes are (H, W); an int is the side of a square. A canonical frame and the model's frame
have nearly the same aspect (``ptx.cache.frame.frame_shape`` rounds the model's short
side to what its downsamplings need), so x and y may scale by slightly different factors:
keypoints and flow vectors are scaled per axis accordingly.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ptx.cache.frame import Shape, as_shape


def resize_array(name: str, x: np.ndarray, size: int | Shape) -> torch.Tensor:
    """One chunk of prepared array ``name`` (numpy, channels last, (n, h, w[, C])) -> an
    (n, C, H, W) tensor for ``size`` (H, W): area for images and flow (whose vectors are
    scaled per axis), nearest for IUV (part ids are never averaged),
    all-covered-pixels-valid for ``flow_valid``."""
    h, w = as_shape(size)
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim == 3:  # (n, H, W) -> (n, H, W, 1)
        t = t.unsqueeze(-1)
    t = t.permute(0, 3, 1, 2)
    src = (int(t.shape[-2]), int(t.shape[-1]))
    same = src == (h, w)
    if name == "flow_valid":
        t = (t != 0).float()
        if not same:  # a pixel is valid only if every source pixel it covers is
            t = 1.0 - F.adaptive_max_pool2d(1.0 - t, (h, w))
        return t.to(torch.uint8)
    if same:
        return t.contiguous()
    if name == "iuv":
        return F.interpolate(t.float(), size=(h, w), mode="nearest-exact").to(torch.uint8)
    if name == "flow":
        out = F.interpolate(t.float(), size=(h, w), mode="area")
        if src[0] == src[1] and h == w:
            return (out * (w / src[1])).half()
        scale = out.new_tensor([w / src[1], h / src[0]]).view(1, 2, 1, 1)
        return (out * scale).half()
    out = F.interpolate(t.float(), size=(h, w), mode="area")
    return out.round_().clamp_(0, 255).to(torch.uint8)


def resize_keypoints(kp: np.ndarray, src: int | Shape, size: int | Shape) -> torch.Tensor:
    """Keypoints float (n, K, 3) in pixels of a ``src`` (H, W) frame -> float32 tensor in
    pixels of a ``size`` (H, W) frame (x and y scaled by their own factors; confidences
    kept)."""
    (sh, sw), (h, w) = as_shape(src), as_shape(size)
    t = torch.from_numpy(np.ascontiguousarray(kp, dtype=np.float32)).clone()
    if (sh, sw) == (h, w):
        return t
    if sh == sw and h == w:
        t[..., :2] *= w / sw
    else:
        t[..., 0] *= w / sw
        t[..., 1] *= h / sh
    return t
