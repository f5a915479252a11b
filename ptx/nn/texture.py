"""The hybrid texture and its differentiable mapping to the screen (D2G-Net's 18-channel
texture; with 3 channels, the explicit RGB texture of Textured Neural Avatars).

The 24 part charts (``size`` x ``size`` texels, ``channels`` channels each; channels 0-2
are RGB in [-1, 1], the others learn pose-varying detail) live in one packed atlas of
4 x 6 cells. Each cell has a ``pad``-texel border so bilinear sampling at a chart's edge
never reads a neighbouring chart. Sampling looks up only the ``topk`` most likely parts of
each pixel (2 by default): from 128 px up, sampling every part at every pixel costs more
than all the convolutions, and the other parts' weights are negligible.

Output: I_ht(x) = sum_k w_k(x) T_{i_k}(C_{i_k}(x)), w = the selected parts' probabilities
renormalised to sum to 1 (the colour given that x shows the person; the background
probability P_0 is applied by the composite).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ptx.nn.uv_generator import N_PARTS

ROWS, COLS = 4, 6
"""Atlas layout: part p (1..24) sits in cell ((p-1) // 6, (p-1) % 6)."""


class HybridTexture(nn.Module):
    """24 learnable part charts packed into one atlas (1, channels, 4*cell, 6*cell)."""

    def __init__(self, size: int, channels: int = 18, pad: int = 1, topk: int = 2) -> None:
        super().__init__()
        self.size, self.channels, self.pad = size, channels, pad
        self.topk = min(max(1, topk), N_PARTS) if topk else N_PARTS
        self.cell = size + 2 * pad
        self.atlas = nn.Parameter(torch.zeros(1, channels, ROWS * self.cell, COLS * self.cell))

    # --- the parts' charts ------------------------------------------------------------
    def set_rgb(self, charts: torch.Tensor) -> None:
        """Set channels 0-2 from ``charts``: float (24, 3, size, size) in [-1, 1]; borders
        replicate the chart edges; the other channels are reset to zero."""
        if charts.shape != (N_PARTS, 3, self.size, self.size):
            raise ValueError(
                f"charts must be (24, 3, {self.size}, {self.size}), got {charts.shape}"
            )
        padded = F.pad(charts.float(), (self.pad,) * 4, mode="replicate")
        with torch.no_grad():
            self.atlas.zero_()
            for p in range(N_PARTS):
                r, c = divmod(p, COLS)
                cell = self.atlas[0, :3, r * self.cell : (r + 1) * self.cell]
                cell[:, :, c * self.cell : (c + 1) * self.cell] = padded[p]

    def charts(self) -> torch.Tensor:
        """The charts without borders: float (24, channels, size, size)."""
        out = []
        for p in range(N_PARTS):
            r, c = divmod(p, COLS)
            y, x = r * self.cell + self.pad, c * self.cell + self.pad
            out.append(self.atlas[0, :, y : y + self.size, x : x + self.size])
        return torch.stack(out)

    # --- mapping to the screen --------------------------------------------------------
    def forward(self, probs: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        """``probs``: float (B, 25, H, W) part probabilities (softmax, part 0 background);
        ``uv``: float (B, 48, H, W) in [-1, 1]. Returns I_ht: float (B, channels, H, W)."""
        b, _, h, w = probs.shape
        k = self.topk
        fg = probs[:, 1:]
        if k < N_PARTS:
            weight, idx = fg.topk(k, dim=1)  # (B, K, H, W)
        else:
            weight = fg
            idx = torch.arange(N_PARTS, device=probs.device).view(1, N_PARTS, 1, 1)
            idx = idx.expand(b, N_PARTS, h, w)
        weight = weight / weight.sum(dim=1, keepdim=True).clamp_min(1e-6)
        uv_parts = uv.view(b, N_PARTS, 2, h, w)
        sel = uv_parts.gather(1, idx.unsqueeze(2).expand(b, k, 2, h, w))  # (B, K, 2, H, W)
        row = torch.div(idx, COLS, rounding_mode="floor").to(uv.dtype)
        col = (idx % COLS).to(uv.dtype)
        atlas_h, atlas_w = self.atlas.shape[-2:]
        # texel-space position inside the atlas, then the [-1, 1] grid of grid_sample
        # (align_corners=False: -1 and +1 are the outer edges of the border texels).
        half = self.size / 2.0
        x = col * self.cell + self.pad + (sel[:, :, 0] + 1.0) * half
        y = row * self.cell + self.pad + (sel[:, :, 1] + 1.0) * half
        grid = torch.stack([x * (2.0 / atlas_w) - 1.0, y * (2.0 / atlas_h) - 1.0], dim=-1)
        grid = grid.reshape(1, b * k * h, w, 2)
        atlas = self.atlas.to(grid.dtype)
        sampled = F.grid_sample(
            atlas, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        sampled = sampled.view(self.channels, b, k, h, w).permute(1, 2, 0, 3, 4)
        return (sampled * weight.unsqueeze(2)).sum(dim=1)


def unwrap_texture(
    frames: np.ndarray | torch.Tensor, iuv: np.ndarray | torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Average colour per texel over the frames whose IUV pixels hit it, holes filled.

    ``frames``: uint8 (T, 3, H, W); ``iuv``: uint8 (T, 3, H, W) (I = 0..24, U, V x 255).
    Returns (charts float (24, 3, size, size) in [-1, 1], seen float (24, size, size) =
    how many pixels landed on each texel). Unseen texels take the mean of their filled
    neighbours (growing inwards from the seen ones); parts never seen take the mean colour.
    """
    frames_t = torch.as_tensor(frames)
    iuv_t = torch.as_tensor(iuv)
    n_tex = N_PARTS * size * size
    total = torch.zeros(n_tex, 3, dtype=torch.float64)
    count = torch.zeros(n_tex, dtype=torch.float64)
    for start in range(0, frames_t.shape[0], 64):
        f = frames_t[start : start + 64].to("cpu")
        m = iuv_t[start : start + 64].to("cpu")
        part = m[:, 0].long()
        hit = (part > 0) & (part <= N_PARTS)
        if not bool(hit.any()):
            continue
        u = (m[:, 1].long() * size // 255).clamp_(0, size - 1)
        v = (m[:, 2].long() * size // 255).clamp_(0, size - 1)
        flat = ((part - 1) * size + v) * size + u
        index = flat[hit]
        colour = f.permute(0, 2, 3, 1)[hit].double()
        total.index_add_(0, index, colour)
        count.index_add_(0, index, torch.ones_like(index, dtype=torch.float64))
    seen = count.view(N_PARTS, size, size).float()
    mean_all = (total.sum(0) / count.sum().clamp_min(1.0)) if count.sum() > 0 else None
    colour = (total / count.clamp_min(1.0).unsqueeze(1)).view(N_PARTS, size, size, 3)
    colour = colour.permute(0, 3, 1, 2).float()  # (24, 3, size, size), 0..255
    filled = _fill_holes(colour, seen > 0)
    fallback = mean_all.float() if mean_all is not None else torch.full((3,), 127.5)
    for p in range(N_PARTS):
        if not bool((seen[p] > 0).any()):
            filled[p] = fallback.view(3, 1, 1)
    return filled / 127.5 - 1.0, seen


def _fill_holes(colour: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Grow known texels into unknown ones, one ring per pass (3x3 mean of known ones).

    ``colour``: float (P, 3, S, S); ``known``: bool (P, S, S)."""
    colour = colour.clone()
    k = known.float().unsqueeze(1)
    kernel = torch.ones(1, 1, 3, 3)
    for _ in range(colour.shape[-1] * 2):
        if bool(k.min() > 0):
            break
        weight = F.conv2d(k, kernel, padding=1)
        summed = F.conv2d((colour * k).reshape(-1, 1, *colour.shape[-2:]), kernel, padding=1)
        summed = summed.view_as(colour)
        grow = (weight > 0) & (k == 0)
        colour = torch.where(grow, summed / weight.clamp_min(1e-6), colour)
        k = torch.where(grow, torch.ones_like(k), k)
    return colour
