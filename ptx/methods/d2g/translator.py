"""The D2G translator: hybrid-texture image -> RGB foreground.

A pix2pixHD global generator (7x7 stem, stride-2 downsamplings, residual blocks,
upsamplings, 7x7 head). With ``pose_condition`` the pose label, resized to the
bottleneck, is concatenated to the features before the residual blocks (the paper's
"pose condition"; its ablation turns it off). With ``residual`` the head predicts a
correction added to the static RGB (channels 0-2 of the hybrid image) and starts at zero,
so the output equals the static image at step 0 and training only has to learn the
pose-dependent detail; without it the head ends in tanh as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from ptx.nn.blocks import EncoderDecoder


class D2GTranslator(nn.Module):
    """``forward(hybrid (B, C_tex, H, W), pose (B, C_pose, H, W)) -> fg (B, 3, H, W)``."""

    def __init__(
        self,
        tex_channels: int,
        pose_channels: int,
        width: int,
        n_down: int,
        n_res: int,
        cap: int = 512,
        pose_condition: bool = True,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.pose_condition = pose_condition
        self.residual = residual
        cond = pose_channels if pose_condition else 0
        self.trunk = EncoderDecoder(tex_channels, width, n_down, n_res, cap, cond_channels=cond)
        self.head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, 3, 7))
        if residual:
            nn.init.zeros_(self.head[1].weight)
            nn.init.zeros_(self.head[1].bias)

    def forward(self, hybrid: torch.Tensor, pose: torch.Tensor | None = None) -> torch.Tensor:
        h = self.trunk(hybrid, pose if self.pose_condition else None)
        out = self.head(h)
        if self.residual:
            return hybrid[:, :3] + out
        return torch.tanh(out)
