"""D2G-Net's own losses: the UV generator's supervision against the body-model IUV and
the person-probability mask loss (the shared GAN, feature-matching and temporal losses
are in ``ptx.nn.losses``). Images are float (B, C, H, W)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ptx.methods.d2g.uv_generator import N_PARTS


def uv_losses(
    logits: torch.Tensor, uv: torch.Tensor, target_part: torch.Tensor, target_uv: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(part cross-entropy, UV L1 on the target part's channels where the target is a part).

    ``logits`` (B, 25, H, W); ``uv`` (B, 48, H, W); ``target_part`` int64 (B, H, W);
    ``target_uv`` (B, 2, H, W) in [-1, 1]."""
    ce = F.cross_entropy(logits.float(), target_part)
    b, _, h, w = uv.shape
    on = target_part > 0
    idx = (target_part - 1).clamp_min(0)
    pred = uv.view(b, N_PARTS, 2, h, w).gather(1, idx.view(b, 1, 1, h, w).expand(b, 1, 2, h, w))
    err = (pred[:, 0].float() - target_uv.float()).abs().sum(1)
    l1 = (err * on).sum() / (on.sum() * 2).clamp_min(1)
    return ce, l1


def mask_loss(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE between the person probability (B, 1, H, W) and the mask (B, 1, H, W) in [0, 1]."""
    a = alpha.float().clamp(1e-5, 1.0 - 1e-5)
    return F.binary_cross_entropy(a, mask.float())
