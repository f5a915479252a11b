"""Losses shared by methods: adversarial (LSGAN or hinge, over a multi-scale
discriminator), discriminator feature matching, the flow-warped temporal loss, the person
mask loss, and PSNR for training logs. Images are float (B, 3, H, W) in [-1, 1]."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ptx.nn.warp import warp_backward

Features = list[list[torch.Tensor]]
"""A multi-scale discriminator's activations: [scale][layer], the last layer the logits."""


def gan_d_loss(real: Features, fake: Features, mode: str) -> torch.Tensor:
    """Discriminator loss over every scale (the last activation of each is the logit map)."""
    loss = real[0][-1].new_zeros(())
    for r, f in zip(real, fake, strict=True):
        lr, lf = r[-1].float(), f[-1].float()
        if mode == "hinge":
            loss = loss + F.relu(1.0 - lr).mean() + F.relu(1.0 + lf).mean()
        else:
            loss = loss + 0.5 * ((lr - 1.0) ** 2).mean() + 0.5 * (lf**2).mean()
    return loss / len(real)


def gan_g_loss(fake: Features, mode: str) -> torch.Tensor:
    """Generator's adversarial loss over every scale."""
    loss = fake[0][-1].new_zeros(())
    for f in fake:
        lf = f[-1].float()
        loss = loss + (-lf.mean() if mode == "hinge" else ((lf - 1.0) ** 2).mean())
    return loss / len(fake)


def feature_matching(real: Features, fake: Features) -> torch.Tensor:
    """L1 between the discriminator's intermediate activations on real and fake images."""
    loss = fake[0][0].new_zeros((), dtype=torch.float32)
    n = 0
    for r, f in zip(real, fake, strict=True):
        for a, b in zip(r[:-1], f[:-1], strict=True):
            loss = loss + F.l1_loss(b.float(), a.detach().float())
            n += 1
    return loss / max(n, 1)


def split_real_fake(feats: Features, n: int) -> tuple[Features, Features]:
    """Activations of a discriminator run on ``cat([real, fake])`` (``n`` real first)."""
    return [[f[:n] for f in s] for s in feats], [[f[n:] for f in s] for s in feats]


def temporal_loss(
    current: torch.Tensor, previous: torch.Tensor, flow: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """L1 between output t and output t-1 warped to t (``ptx.nn.warp``), on valid pixels.

    ``flow``: float (B, 2, H, W) from t to t-1; ``valid``: float (B, 1, H, W) in [0, 1]
    (flow consistency; pixels whose flow leaves the frame are dropped too)."""
    warped, inside = warp_backward(previous, flow)
    weight = valid.float() * inside.float()
    diff = (current.float() - warped).abs() * weight
    return diff.sum() / (weight.sum() * current.shape[1]).clamp_min(1.0)


def mask_loss(alpha: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """BCE between the person probability (B, 1, H, W) and the mask (B, 1, H, W) in [0, 1]."""
    a = alpha.float().clamp(1e-5, 1.0 - 1e-5)
    return F.binary_cross_entropy(a, mask.float())


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of two float (B, 3, H, W) images in [-1, 1] (peak = the range)."""
    mse = ((a.float().clamp(-1, 1) - b.float().clamp(-1, 1)) ** 2).mean(dim=(1, 2, 3)) / 4.0
    return 10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))
