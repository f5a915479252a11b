"""BDMM's critics [003 supp §1.2], LSGAN.

- Spatial D: a generated or real frame concatenated with the source picture [Eq. 10],
  3 stride-2 blocks (ndf, 2 ndf, 4 ndf), then a 4x4 conv to one logit map ("like PatchGAN").
- Temporal D_V: a 3D CNN over a sequence of frames, each concatenated with its pre-warped
  source picture (the condition). The supplement concatenates "the generated sequence and
  the target sequence"; read literally, a critic shown the target beside its input can
  tell real (two equal halves) from generated trivially, so ptx pairs the real or the
  generated sequence with the same condition instead; 4 blocks of 3x4x4 convs (stride 1 in time, 2 in space:
  1/16), plus an average-pooling residual branch (1/16 in space, a 1x1x1 conv) merged by a
  weighted sum (a learned weight starting at 0.5), then a 3x3x3 conv to one logit map. The
  paper gives 6 frames; ptx's training clip gives ``clip - 2 radius`` (3 with the defaults).

Both return ptx's multi-scale feature format ([[activations..., logits]]) so the shared
LSGAN losses apply.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as F

from ptx.methods.bdmm.modulated import SLOPE


class SpatialD(nn.Module):
    def __init__(self, ndf: int) -> None:
        super().__init__()
        chans = (6, ndf, 2 * ndf, 4 * ndf)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(a, b, 4, 2, 1),
                nn.InstanceNorm2d(b, affine=True) if i else nn.Identity(),
                nn.LeakyReLU(SLOPE, True),
            )
            for i, (a, b) in enumerate(itertools.pairwise(chans))
        )
        self.out = nn.Conv2d(4 * ndf, 1, 4, 1, 1)

    def forward(self, image: torch.Tensor, source: torch.Tensor) -> list[list[torch.Tensor]]:
        h, acts = torch.cat([image, source], 1), []
        for b in self.blocks:
            h = b(h)
            acts.append(h)
        return [[*acts, self.out(h)]]


class TemporalD(nn.Module):
    def __init__(self, ndf: int) -> None:
        super().__init__()
        chans = (6, ndf, 2 * ndf, 4 * ndf, 8 * ndf)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv3d(a, b, (3, 4, 4), (1, 2, 2), (1, 1, 1)), nn.LeakyReLU(SLOPE, True)
            )
            for a, b in itertools.pairwise(chans)
        )
        self.residual = nn.Conv3d(6, 8 * ndf, 1)
        self.mix = nn.Parameter(torch.tensor(0.5))
        self.out = nn.Conv3d(8 * ndf, 1, 3, 1, 1)

    def forward(self, frames: torch.Tensor, cond: torch.Tensor) -> list[list[torch.Tensor]]:
        """``frames``, ``cond``: (B, T, 3, H, W)."""
        x = torch.cat([frames, cond], 2).transpose(1, 2)  # (B, 6, T, H, W)
        h, acts = x, []
        for b in self.blocks:
            h = b(h)
            acts.append(h)
        res = self.residual(F.adaptive_avg_pool3d(x, h.shape[2:]))
        h = self.mix * h + (1 - self.mix) * res
        return [[*acts, self.out(h)]]
