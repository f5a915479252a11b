"""Modulated deformable convolution (DCNv2, Zhu et al. 2019) in plain PyTorch.

``y(p) = sum_k w_k * m_k(p) * x(p + p_k + o_k(p))``: each kernel tap ``k`` reads the
input at its regular position ``p_k`` shifted by a learned fractional offset ``o_k(p)``
(bilinear sampling, zero outside the picture) and scaled by a mask ``m_k(p)``.

Written with ``grid_sample`` (no compiled extension):

1. the K = kh * kw sampling grids are built at once as one (B, K * Ho, Wo, 2) grid,
   normalised with ``align_corners=True`` so that pixel centres sit on integer
   coordinates (zero padding then matches a zero-padded ``conv2d``);
2. one bilinear ``grid_sample`` gives the sampled input (B, C, K * Ho, Wo);
3. it is scaled by the mask and laid out as im2col columns (B, C * K, Ho * Wo);
4. a ``matmul`` with the weight (O, C * K), or a ``bmm`` with per-sample weights
   (B, O, C * K) for StyleGAN2-style modulation.

Cost: the im2col tensor is K (9 for 3x3) times the input and is kept for backward; the
time goes to the mask multiply, copies, the matmul and grid_sample's backward
(``benchmarks/bench_deform.py`` measures it against ``conv2d``). Offsets are laid out as
torchvision's: (B, 2K, Ho, Wo) with ``(dy, dx)`` of tap ``k`` in channels ``2k, 2k + 1``,
taps in row-major kernel order; the mask is (B, K, Ho, Wo). Stride 1 only (BDMM's DMM
blocks, its one user, are stride 1).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _base_grid(
    h: int, w: int, kh: int, kw: int, padding: int, dilation: int, like: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """Regular sampling positions (y, x), each (K, Ho, Wo), of a stride-1 convolution."""
    ho, wo = h + 2 * padding - dilation * (kh - 1), w + 2 * padding - dilation * (kw - 1)
    if ho < 1 or wo < 1:
        raise ValueError(f"deform_conv2d: input {h}x{w} too small for a {kh}x{kw} kernel")
    kw_ = dict(device=like.device, dtype=like.dtype)
    oy = torch.arange(ho, **kw_).view(1, ho, 1) - padding
    ox = torch.arange(wo, **kw_).view(1, 1, wo) - padding
    ty = (torch.arange(kh, **kw_) * dilation).repeat_interleave(kw).view(-1, 1, 1)
    tx = (torch.arange(kw, **kw_) * dilation).repeat(kh).view(-1, 1, 1)
    return (oy + ty).expand(-1, -1, wo), (ox + tx).expand(-1, ho, -1), ho, wo


def deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 0,
    dilation: int = 1,
) -> torch.Tensor:
    """Modulated deformable convolution, stride 1.

    ``x`` (B, C, H, W); ``offset`` (B, 2K, Ho, Wo) as (dy, dx) per tap; ``mask``
    (B, K, Ho, Wo) or None (all ones); ``weight`` (O, C, kh, kw), or (B, O, C, kh, kw)
    for a different weight per sample; ``bias`` (O,) or (B, O). Returns (B, O, Ho, Wo)
    with Ho = H + 2 padding - dilation (kh - 1) (likewise Wo)."""
    b, c, h, w = x.shape
    kh, kw = weight.shape[-2:]
    k = kh * kw
    if weight.shape[-3] != c:
        raise ValueError(f"deform_conv2d: weight expects {weight.shape[-3]} channels, got {c}")
    by, bx, ho, wo = _base_grid(h, w, kh, kw, padding, dilation, x)
    if offset.shape != (b, 2 * k, ho, wo):
        raise ValueError(f"deform_conv2d: offset {tuple(offset.shape)}, want {(b, 2 * k, ho, wo)}")
    off = offset.view(b, k, 2, ho, wo)
    py = by + off[:, :, 0]  # (B, K, Ho, Wo)
    px = bx + off[:, :, 1]
    gx = px * (2.0 / max(w - 1, 1)) - 1.0
    gy = py * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.stack([gx, gy], dim=-1).view(b, k * ho, wo, 2)
    cols = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    if mask is not None:
        if mask.shape != (b, k, ho, wo):
            raise ValueError(f"deform_conv2d: mask {tuple(mask.shape)}, want {(b, k, ho, wo)}")
        cols = cols * mask.reshape(b, 1, k * ho, wo)
    cols = cols.reshape(b, c * k, ho * wo)
    if weight.dim() == 4:
        out = torch.matmul(weight.reshape(weight.shape[0], c * k), cols)
    else:
        out = torch.bmm(weight.reshape(b, weight.shape[1], c * k), cols)
    out = out.view(b, -1, ho, wo)
    if bias is not None:
        out = out + (bias.view(1, -1, 1, 1) if bias.dim() == 1 else bias.view(b, -1, 1, 1))
    return out


class OffsetMask(nn.Module):
    """The offsets and mask of a deformable convolution, predicted by a conv over a guide
    feature map. Its conv starts at zero (DCNv2 §3: "initialized to zero"), so at
    initialisation the offsets are 0 and the mask is ``mask_scale * sigmoid(0)``:
    DCNv2's 0.5 with ``mask_scale`` 1; 1 with BDMM's 2 (its DMM blocks, so that a fresh
    block is the plain convolution)."""

    def __init__(self, c_guide: int, taps: int, kernel: int = 3, mask_scale: float = 2.0):
        super().__init__()
        self.taps, self.mask_scale = taps, mask_scale
        self.conv = nn.Conv2d(c_guide, 3 * taps, kernel, padding=kernel // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, guide: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.conv(guide)
        offset, logit = out.split([2 * self.taps, self.taps], dim=1)
        return offset, self.mask_scale * torch.sigmoid(logit)


class ModulatedDeformConv2d(nn.Module):
    """A DCNv2 layer: ``kernel`` x ``kernel``, stride 1, same size, offsets and mask
    from a zero-initialised conv over the input itself or over a ``guide`` of
    ``c_guide`` channels (``forward(x, guide)``)."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int = 3,
        c_guide: int | None = None,
        bias: bool = True,
        mask_scale: float = 2.0,
    ) -> None:
        super().__init__()
        self.padding = kernel // 2
        self.weight = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # as nn.Conv2d
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.offset_mask = OffsetMask(c_guide or c_in, kernel * kernel, kernel, mask_scale)

    def forward(self, x: torch.Tensor, guide: torch.Tensor | None = None) -> torch.Tensor:
        offset, mask = self.offset_mask(x if guide is None else guide)
        return deform_conv2d(x, offset, mask, self.weight, self.bias, self.padding)
