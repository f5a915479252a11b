"""BDMM's style-modulated layers [003 §3.1 Eq. 3-4; StyleGAN2's modulation]: weights
scaled per input channel by an affine map A of the source's style vector, then
demodulated ``w'' = w' / sqrt(sum_{j,k} w'^2 + eps)``; and the Deformable Motion
Modulation block, whose modulated kernel samples the *propagated* warp feature at learned
offsets with a learned mask [003 Eq. 2].

Architecture changes from the authors' code, all for plain PyTorch on any device: the
upsampling StyledConv upsamples bilinearly then convolves (the code's ``upfirdn2d`` blur
is a custom CUDA op), and no noise is injected (the paper does not mention noise).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ptx.nn.deform import OffsetMask, deform_conv2d

SLOPE = 0.2
"""LeakyReLU slope [003 §4.1]."""


def act(x: torch.Tensor) -> torch.Tensor:
    """StyleGAN2's fused LeakyReLU: slope 0.2, gain sqrt(2)."""
    return F.leaky_relu(x, SLOPE) * math.sqrt(2.0)


class ModWeight(nn.Module):
    """A kernel (O, I, k, k) modulated per sample by a style vector: (B, O, I, k, k)."""

    def __init__(self, c_in: int, c_out: int, k: int, style: int, demodulate: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, k, k))
        self.scale = 1.0 / math.sqrt(c_in * k * k)
        self.affine = nn.Linear(style, c_in)
        nn.init.ones_(self.affine.bias)  # StyleGAN2: styles start at 1
        self.demodulate = demodulate

    def forward(self, style: torch.Tensor) -> torch.Tensor:
        s = self.affine(style)  # (B, I)
        w = self.scale * self.weight[None] * s[:, None, :, None, None]
        if self.demodulate:
            w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return w


def grouped_conv(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-sample convolution: x (B, I, H, W), w (B, O, I, k, k), same size."""
    b, c, h, wd = x.shape
    out = F.conv2d(x.reshape(1, b * c, h, wd), w.reshape(-1, c, *w.shape[-2:]),
                   padding=w.shape[-1] // 2, groups=b)  # fmt: skip
    return out.view(b, -1, h, wd)


class StyledConv(nn.Module):
    """Modulated conv (+ optional 2x bilinear upsampling first) + bias + LeakyReLU."""

    def __init__(self, c_in: int, c_out: int, style: int, k: int = 3, up: bool = False):
        super().__init__()
        self.mod = ModWeight(c_in, c_out, k, style)
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.up = up

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return act(grouped_conv(x, self.mod(style)) + self.bias.view(1, -1, 1, 1))


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation, + bias (StyleGAN2's ToRGB)."""

    def __init__(self, c_in: int, style: int) -> None:
        super().__init__()
        self.mod = ModWeight(c_in, 3, 1, style, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return grouped_conv(x, self.mod(style)) + self.bias.view(1, -1, 1, 1)


class DMM(nn.Module):
    """Deformable Motion Modulation [003 Eq. 2-4; the authors' ``ModulatedDCN``]: a 3x3
    modulated deformable conv over the propagated feature ``f`` (forward or backward
    state), offsets (18) and mask (9, ``2 sigmoid``) from a 3x3 conv + ReLU over [decoder
    feature ``h`` ⊕ ``f``] followed by a zero-initialised 3x3 conv, so a fresh block is
    the modulated conv of ``f`` (offsets 0, mask 1); + bias + LeakyReLU.

    ``deform=False`` is the ablation "w/o DMM" as ptx builds it: a plain conv (no style
    modulation, no offsets, no mask) over [``h`` ⊕ ``f``]."""

    def __init__(self, c: int, style: int, deform: bool = True) -> None:
        super().__init__()
        self.deform = deform
        if deform:
            self.guide = nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.ReLU(True))
            self.offset_mask = OffsetMask(c, 9, 3, mask_scale=2.0)
            self.mod = ModWeight(c, c, 3, style)
        else:
            self.conv = nn.Conv2d(2 * c, c, 3, padding=1)
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, h: torch.Tensor, f: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if not self.deform:
            return act(self.conv(torch.cat([h, f], 1)) + self.bias.view(1, -1, 1, 1))
        offset, mask = self.offset_mask(self.guide(torch.cat([h, f], 1)))
        out = deform_conv2d(f, offset, mask, self.mod(style), None, padding=1)
        return act(out + self.bias.view(1, -1, 1, 1))
