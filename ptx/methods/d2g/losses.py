"""D2G-Net's losses. Images are float (B, 3, H, W) in [-1, 1]."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ptx.methods.d2g.uv_generator import N_PARTS


def gan_d_loss(
    real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]], mode: str
) -> torch.Tensor:
    """Discriminator loss over every scale (the last activation of each is the logit map)."""
    loss = real[0][-1].new_zeros(())
    for r, f in zip(real, fake, strict=True):
        lr, lf = r[-1].float(), f[-1].float()
        if mode == "hinge":
            loss = loss + F.relu(1.0 - lr).mean() + F.relu(1.0 + lf).mean()
        else:
            loss = loss + 0.5 * ((lr - 1.0) ** 2).mean() + 0.5 * (lf**2).mean()
    return loss / len(real)


def gan_g_loss(fake: list[list[torch.Tensor]], mode: str) -> torch.Tensor:
    """Generator's adversarial loss over every scale."""
    loss = fake[0][-1].new_zeros(())
    for f in fake:
        lf = f[-1].float()
        loss = loss + (-lf.mean() if mode == "hinge" else ((lf - 1.0) ** 2).mean())
    return loss / len(fake)


def feature_matching(
    real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]
) -> torch.Tensor:
    """L1 between the discriminator's intermediate activations on real and fake images."""
    loss = fake[0][0].new_zeros((), dtype=torch.float32)
    n = 0
    for r, f in zip(real, fake, strict=True):
        for a, b in zip(r[:-1], f[:-1], strict=True):
            loss = loss + F.l1_loss(b.float(), a.detach().float())
            n += 1
    return loss / max(n, 1)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` (frame t-1) at p + flow(p): float (B, C, H, W) -> the same, aligned
    to frame t. ``flow``: float (B, 2, H, W) in pixels, (dx, dy) from t to t-1."""
    _, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=torch.float32),
        torch.arange(w, device=image.device, dtype=torch.float32),
        indexing="ij",
    )
    x = (xs + flow[:, 0].float() + 0.5) * (2.0 / w) - 1.0
    y = (ys + flow[:, 1].float() + 0.5) * (2.0 / h) - 1.0
    grid = torch.stack([x, y], dim=-1)
    return F.grid_sample(
        image.float(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )


def flow_inside(flow: torch.Tensor) -> torch.Tensor:
    """float (B, 1, H, W): 1 where p + flow(p) lands inside the frame."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=flow.device, dtype=torch.float32),
        torch.arange(w, device=flow.device, dtype=torch.float32),
        indexing="ij",
    )
    x = xs + flow[:, 0].float()
    y = ys + flow[:, 1].float()
    return ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).float().unsqueeze(1)


def temporal_loss(
    current: torch.Tensor, previous: torch.Tensor, flow: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """L1 between output t and output t-1 warped to t, on valid pixels.

    ``valid``: float (B, 1, H, W) in [0, 1] (flow consistency; pixels whose flow leaves
    the frame are dropped too)."""
    weight = valid.float() * flow_inside(flow)
    diff = (current.float() - warp(previous, flow)).abs() * weight
    return diff.sum() / (weight.sum() * current.shape[1]).clamp_min(1.0)


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


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of two float (B, 3, H, W) images in [-1, 1] (peak = the range)."""
    mse = ((a.float().clamp(-1, 1) - b.float().clamp(-1, 1)) ** 2).mean(dim=(1, 2, 3)) / 4.0
    return 10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))
