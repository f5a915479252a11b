"""The UV generator G_uv: pose label -> part probabilities and per-part UV coordinates
(D2G-Net's, also the UV network of Textured Neural Avatars), and its supervision against
the body-model IUV.

Outputs, for an image of H x W pixels:

- ``logits``: float (B, 25, H, W), part 0 = background, 1..24 = DensePose's body parts;
- ``uv``: float (B, 48, H, W) in [-1, 1]; channels ``2k, 2k+1`` are (u, v) of part k+1,
  u along the chart's columns, v along its rows (the texture's sampling grid).

With ``iuv_input`` the generator also sees the body-model IUV of the same frame (rendered
by the ``iuv`` stage, and at transfer time for any pose) and predicts a correction to it:
the input part gets a logit bonus of ``prior_logit`` and, where the input names part k,
part k's UV is the input UV plus a bounded learned offset. The static path is then good
from the first step; the network only has to learn where clothes and hair leave the body.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ptx.nn.blocks import EncoderDecoder

N_PARTS = 24
"""Body parts (DensePose's 24); part 0 is background."""


def iuv_to_tensors(iuv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """DensePose-convention IUV -> (part int64 (B, H, W), uv float (B, 2, H, W) in [-1, 1]).

    ``iuv``: uint8 (B, 3, H, W) with I = 0..24 and U, V x 255.
    """
    part = iuv[:, 0].long().clamp_(0, N_PARTS)
    uv = iuv[:, 1:3].float() * (2.0 / 255.0) - 1.0
    return part, uv


class UVGenerator(nn.Module):
    """pix2pixHD-style trunk with two 7x7 heads (UV through tanh, part logits)."""

    def __init__(
        self,
        pose_channels: int,
        width: int,
        n_down: int,
        n_res: int,
        cap: int = 512,
        iuv_input: bool = False,
        prior_logit: float = 8.0,
        prior_offset: float = 0.5,
    ) -> None:
        super().__init__()
        self.iuv_input = iuv_input
        self.prior_logit = prior_logit
        self.prior_offset = prior_offset
        c_in = pose_channels + ((N_PARTS + 1) + 2 if iuv_input else 0)
        self.trunk = EncoderDecoder(c_in, width, n_down, n_res, cap)
        self.uv_head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, 2 * N_PARTS, 7))
        self.part_head = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(width, N_PARTS + 1, 7))

    def forward(
        self, pose: torch.Tensor, iuv: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``pose``: float (B, C, H, W) in [-1, 1]; ``iuv``: uint8 (B, 3, H, W), required
        when the generator was built with ``iuv_input``. Returns (logits, uv)."""
        if not self.iuv_input:
            h = self.trunk(pose)
            return self.part_head(h), torch.tanh(self.uv_head(h))
        if iuv is None:
            raise ValueError("this UV generator was built with iuv_input=True; pass the IUV")
        part, uv_in = iuv_to_tensors(iuv)
        onehot = F.one_hot(part, N_PARTS + 1).permute(0, 3, 1, 2).to(pose.dtype)
        h = self.trunk(torch.cat([pose, onehot, uv_in.to(pose.dtype)], dim=1))
        logits = self.part_head(h) + self.prior_logit * onehot
        free = torch.tanh(self.uv_head(h))
        inside = onehot[:, 1:].repeat_interleave(2, dim=1)  # (B, 48, H, W)
        prior = uv_in.repeat(1, N_PARTS, 1, 1)
        corrected = (prior + self.prior_offset * free).clamp(-1.0, 1.0)
        return logits, inside * corrected + (1.0 - inside) * free


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
