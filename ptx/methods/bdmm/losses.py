"""BDMM's VGG-19 terms [003 Eq. 11-13]: perceptual L1, Gram-matrix L1, contextual loss.

ptx's VGG-19 taps relu1_1 .. relu5_1 (``ptx.nn.vgg``); the perceptual and Gram terms use
all five (GFLA's layers, whose loss code BDMM reuses), the contextual term relu3_1 and
relu4_1 (the paper: relu3_2 and relu4_2, which ptx's VGG does not tap).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def gram(f: torch.Tensor) -> torch.Tensor:
    b, c, h, w = f.shape
    x = f.reshape(b, c, h * w)
    return torch.bmm(x, x.transpose(1, 2)) / (c * h * w)


def contextual(x: torch.Tensor, y: torch.Tensor, band: float = 0.5) -> torch.Tensor:
    """Contextual loss (Mechrez et al. 2018) of features x against target y (B, C, H, W):
    cosine distances after centring on y's mean, normalised by each x position's nearest,
    exp((1 - d) / band), normalised per x position; -log of the mean best match per y."""
    mu = y.mean(dim=(0, 2, 3), keepdim=True)
    xs = F.normalize((x - mu).flatten(2), dim=1)
    ys = F.normalize((y - mu).flatten(2), dim=1)
    d = 1.0 - torch.bmm(xs.transpose(1, 2), ys)  # (B, Nx, Ny)
    d = d / (d.min(dim=2, keepdim=True).values + 1e-5)
    w = torch.exp((1.0 - d) / band)
    cx = w / w.sum(dim=2, keepdim=True)
    return -torch.log(cx.max(dim=1).values.mean(dim=1) + 1e-5).mean()


def vgg_terms(net, fake: torch.Tensor, real: torch.Tensor) -> dict[str, torch.Tensor]:
    fx = net(fake)
    with torch.no_grad():
        fy = net(real)
    per = sum(F.l1_loss(a, b) for a, b in zip(fx, fy, strict=True))
    gr = sum(F.l1_loss(gram(a), gram(b)) for a, b in zip(fx, fy, strict=True))
    cx = contextual(fx[2], fy[2]) + contextual(fx[3], fy[3])
    return {"per": per, "gram": gr, "cx": cx}
