"""DwNet's coarse warp grids for batches of IUV images (``ptx.body.meshflow``)."""

from __future__ import annotations

import numpy as np
import torch

from ptx.body.meshflow import iuv_nearest_flow


def coarse_flow(source_iuv: torch.Tensor, target_iuv: torch.Tensor, mode: str) -> torch.Tensor:
    """float (n, 2, H, W): for each target (driving) pixel, the flow to the same body point
    in the source, from uint8 IUV images (n, 3, H, W) (``mode`` iuv: per-part nearest
    neighbour in UV space [DwNet §3.1]; none: the identity, 0)."""
    n, _, h, w = target_iuv.shape
    out = np.zeros((n, 2, h, w), np.float32)
    if mode != "none":
        src = source_iuv.detach().cpu().permute(0, 2, 3, 1).numpy()
        dst = target_iuv.detach().cpu().permute(0, 2, 3, 1).numpy()
        for i in range(n):
            out[i] = iuv_nearest_flow(src[i], dst[i]).flow.transpose(2, 0, 1)
    return torch.from_numpy(out).to(target_iuv.device)
