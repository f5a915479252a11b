"""The source picture pre-warped to each driving frame [003 Eq. 5], and BDMM's per-frame
encoding.

The paper warps with an SMPL mesh flow (``ptx.body.meshflow.mesh_flow``). One-shot data
in ptx carries IUV images, not per-frame body meshes, so the correspondence here is the
same module's IUV one (``iuv_nearest_flow``: per body part, the nearest source pixel in
UV space; ``benchmarks/results/coarse_grid.json`` measures it against the exact mesh flow).
Off the body the flow is 0 (with a static camera the source shows the background there).

The per-frame encoding is [structural channels ⊕ IUV]: the structural channels are the
18 keypoint heatmaps (``pose`` heatmaps) or the IUV itself (``pose`` iuv); the IUV is
always the last 3 channels, so a renderer handed a window of encodings recovers each
frame's IUV (exactly: uint8 -> [-1, 1] -> uint8 round-trips) and pre-warps the source to it.
"""

from __future__ import annotations

import numpy as np
import torch

from ptx.body.meshflow import iuv_nearest_flow
from ptx.nn.poselabels import PoseEncoding, image_stack, keypoint_heatmaps
from ptx.nn.warp import warp_backward


def encoding(pose: str, frame: tuple[int, int]) -> PoseEncoding:
    iuv = image_stack(("iuv",))
    if pose == "iuv":
        return iuv
    heat = keypoint_heatmaps(frame, sigma=6.0 * max(frame) / 256.0)

    def encode(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([heat(inputs), iuv(inputs)], 1)

    return PoseEncoding(("keypoints", "iuv"), heat.channels + 3, encode)


def structural_channels(pose: str) -> int:
    return 3 if pose == "iuv" else 18


def structure_of(code: torch.Tensor, pose: str) -> torch.Tensor:
    """The structural input of one frame's encoding (n, C, H, W)."""
    return code if pose == "iuv" else code[:, :18]


def iuv_of(code: torch.Tensor) -> torch.Tensor:
    """uint8 IUV (n, 3, H, W) from encodings (its last 3 channels, in [-1, 1])."""
    return ((code[:, -3:].float() + 1.0) * 127.5).round_().clamp_(0, 255).to(torch.uint8)


class Prewarp:
    """The source warped to driving IUV images; flows are cached by the driving IUV's
    bytes (a window of 2N + 1 frames slides over each frame 2N + 1 times)."""

    def __init__(self, source: torch.Tensor, source_iuv: torch.Tensor) -> None:
        """``source`` float (n, 3, H, W) in [-1, 1]; ``source_iuv`` uint8 (n, 3, H, W)."""
        self.source = source
        self.src_iuv = source_iuv.detach().cpu().permute(0, 2, 3, 1).numpy()
        self.cache: dict[tuple[int, bytes], np.ndarray] = {}

    def flow(self, iuv: torch.Tensor) -> torch.Tensor:
        dst = iuv.detach().cpu().permute(0, 2, 3, 1).numpy()
        out = np.zeros((len(dst), 2, *dst.shape[1:3]), np.float32)
        for i in range(len(dst)):
            s = i if len(self.src_iuv) > 1 else 0
            key = (s, dst[i].tobytes())
            if key not in self.cache:
                self.cache[key] = iuv_nearest_flow(self.src_iuv[s], dst[i]).flow.transpose(2, 0, 1)
            out[i] = self.cache[key]
        return torch.from_numpy(out).to(iuv.device)

    def __call__(self, iuv: torch.Tensor) -> torch.Tensor:
        """The source (n, 3, H, W) warped to the driving IUV (n, 3, H, W)."""
        src = self.source
        if src.shape[0] != iuv.shape[0]:
            src = src.expand(iuv.shape[0], -1, -1, -1)
        warped, _ = warp_backward(src, self.flow(iuv))
        return warped
