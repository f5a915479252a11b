"""Prepared arrays (numpy, channels last, in canonical pixels) -> tensors at a model's size,
with one resizing rule per kind of array, shared by training, rendering and scoring."""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from ptx.errors import InputError


def resize_array(name: str, x: np.ndarray, size: int) -> torch.Tensor:
    """One chunk of prepared array ``name`` (numpy, channels last, (n, S, S[, C])) -> an
    (n, C, size, size) tensor: area for images and flow (whose vectors are scaled), nearest
    for IUV (part ids are never averaged), all-covered-pixels-valid for ``flow_valid``."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim == 3:  # (n, H, W) -> (n, H, W, 1)
        t = t.unsqueeze(-1)
    t = t.permute(0, 3, 1, 2)
    src = t.shape[-1]
    if t.shape[-2] != src:
        raise InputError(
            f"Array '{name}' is not square ({tuple(x.shape)}); ptx expects canonical frames."
        )
    if name == "flow_valid":
        t = (t != 0).float()
        if src != size:  # a pixel is valid only if every source pixel it covers is
            t = 1.0 - F.adaptive_max_pool2d(1.0 - t, size)
        return t.to(torch.uint8)
    if src == size:
        return t.contiguous()
    if name == "iuv":
        return F.interpolate(t.float(), size=(size, size), mode="nearest-exact").to(torch.uint8)
    if name == "flow":
        return (F.interpolate(t.float(), size=(size, size), mode="area") * (size / src)).half()
    out = F.interpolate(t.float(), size=(size, size), mode="area")
    return out.round_().clamp_(0, 255).to(torch.uint8)


def resize_keypoints(kp: np.ndarray, src: int, size: int) -> torch.Tensor:
    """Keypoints float (n, K, 3) in ``src``-pixel frames -> float32 tensor in ``size`` pixels
    (confidences kept)."""
    t = torch.from_numpy(np.ascontiguousarray(kp, dtype=np.float32)).clone()
    if src != size:
        t[..., :2] *= size / src
    return t
