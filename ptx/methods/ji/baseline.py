"""The warp-only baseline of the one-shot protocol for a batch: the source warped by the
coarse IUV grid (per-part nearest neighbour in UV space, ``ptx.body.meshflow``; no
network), as ``ptx.perform.oneshot`` scores it."""

from __future__ import annotations

import numpy as np
import torch

from ptx.body.meshflow import iuv_nearest_flow
from ptx.nn.warp import warp_backward


def coarse_warp(source: torch.Tensor, src_iuv: torch.Tensor, iuv: torch.Tensor) -> torch.Tensor:
    """float (n, 3, H, W): ``source`` (n, 3, H, W) warped to each driving uint8 IUV."""
    src = src_iuv.detach().cpu().permute(0, 2, 3, 1).numpy()
    dst = iuv.detach().cpu().permute(0, 2, 3, 1).numpy()
    flow = np.stack([iuv_nearest_flow(a, b).flow.transpose(2, 0, 1) for a, b in zip(src, dst)])
    warped, _ = warp_backward(source, torch.from_numpy(flow).to(source.device))
    return warped
