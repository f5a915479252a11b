"""Ren et al.'s pose input: limb maps (one BODY_25 limb per channel) stacked over a window
of frames, and the pose augmentation applied to keypoints before they are drawn.

Augmentation (the paper: "randomly dropping some input channels, perturb the location of
joints keypoints, and elongate or shorten body part lengths in some channels"; it gives no
magnitudes, ptx's are the config's ``aug_*`` settings):

- limb length: with probability ``aug_limb_p`` per limb and item, the limb's vector is
  scaled by a factor uniform in ``1 +- aug_limb`` and every joint hanging below it moves
  with its end (the skeleton stays connected); the same factors over the item's frames;
- global scale about the item's body centre (``1 +- aug_scale``) and shift (``+-
  aug_shift`` of the frame's sides), the same over the item's frames;
- joint jitter: Gaussian, std ``aug_jitter`` of the frame's long side, per joint and frame;
- dropped limbs: each limb channel of each frame is left empty with probability
  ``aug_drop_p`` (after drawing).

Every random number comes from torch's global generator (saved in checkpoints), so a
resumed run draws the same augmentations.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch

from ptx.body.skeleton import BODY_25_LIMBS
from ptx.nn.poselabels import bone_stack

MIN_CONFIDENCE = 0.1
"""Joints at or below this confidence are missing (as ``bone_stack`` reads them)."""


def limb_channels() -> int:
    """Channels of one frame's limb maps: one per BODY_25 limb (24)."""
    return len(BODY_25_LIMBS)


@lru_cache(maxsize=1)
def _descendants() -> tuple[tuple[int, ...], ...]:
    """For each limb (parent, child) of the BODY_25 tree: the child and every joint below."""
    children: dict[int, list[int]] = {}
    for a, b in BODY_25_LIMBS:
        children.setdefault(a, []).append(b)

    def below(j: int) -> list[int]:
        out = [j]
        for c in children.get(j, []):
            out += below(c)
        return out

    return tuple(tuple(below(b)) for _, b in BODY_25_LIMBS)


def draw(keypoints: torch.Tensor, frame: tuple[int, int], cfg: Any) -> torch.Tensor:
    """float (n, 24, H, W) limb maps in [-1, 1] of keypoints (n, K, 3) in pixels of
    ``frame`` (H, W); the limb half-width is ``bone_radius`` of the frame's long side."""
    enc = bone_stack(BODY_25_LIMBS, frame, radius=cfg.bone_radius * max(frame))
    return enc({"keypoints": keypoints})


def augment(kp: torch.Tensor, frame: tuple[int, int], cfg: Any) -> torch.Tensor:
    """Augmented copy of keypoints (B, T, K, 3) (T frames of each of B items) in pixels of
    ``frame`` (H, W); confidences are kept. See the module docstring."""
    b, t, k, _ = kp.shape
    h, w = frame
    out = kp.clone()
    xy = out[..., :2]
    valid = (kp[..., 2] > MIN_CONFIDENCE).unsqueeze(-1).float()  # (B, T, K, 1)
    # limb lengths, the tree from the neck down (parents before children)
    pick = torch.rand(b, len(BODY_25_LIMBS)) < cfg.aug_limb_p
    factor = 1.0 + (torch.rand(b, len(BODY_25_LIMBS)) * 2.0 - 1.0) * cfg.aug_limb
    factor = torch.where(pick, factor, torch.ones_like(factor)).to(kp.device)
    for i, ((pa, ch), below) in enumerate(zip(BODY_25_LIMBS, _descendants(), strict=True)):
        if max(pa, ch) >= k:
            continue
        ok = valid[:, :, pa] * valid[:, :, ch]  # (B, T, 1)
        delta = (xy[:, :, ch] - xy[:, :, pa]) * (factor[:, i].view(b, 1, 1) - 1.0) * ok
        idx = [j for j in below if j < k]
        xy[:, :, idx] += delta.unsqueeze(2)
    # global scale about the body centre, and shift
    weight = valid.sum(dim=(1, 2)).clamp_min(1.0)  # (B, 1)
    centre = (xy * valid).sum(dim=(1, 2)) / weight  # (B, 2)
    scale = (1.0 + (torch.rand(b) * 2.0 - 1.0) * cfg.aug_scale).to(kp.device).view(b, 1, 1, 1)
    shift = (torch.rand(b, 2) * 2.0 - 1.0) * cfg.aug_shift
    shift = (shift * torch.tensor([w, h], dtype=torch.float32)).to(kp.device).view(b, 1, 1, 2)
    c = centre.view(b, 1, 1, 2)
    xy.copy_((xy - c) * scale + c + shift)
    # joint jitter
    xy += torch.randn(b, t, k, 2).to(kp.device) * (cfg.aug_jitter * max(h, w))
    return out


def drop_limbs(maps: torch.Tensor, p: float) -> torch.Tensor:
    """Limb maps (n, 24, H, W) with each channel emptied (-1) with probability ``p``."""
    keep = (torch.rand(maps.shape[0], maps.shape[1]) >= p).to(maps.device)
    return torch.where(keep[:, :, None, None], maps, torch.full_like(maps, -1.0))


def windows(maps: torch.Tensor, centres: list[int], offsets: tuple[int, ...]) -> torch.Tensor:
    """Stacked windows: ``maps`` (B, T, C, H, W) -> (len(centres) * B, len(offsets) * C, H,
    W), block i holding the windows of frame ``centres[i]`` of every item."""
    b, _, c, h, w = maps.shape
    out = [maps[:, [p + o for o in offsets]].reshape(b, len(offsets) * c, h, w) for p in centres]
    return torch.cat(out)


def scaled(kp: torch.Tensor, factor: float) -> torch.Tensor:
    """Keypoints with positions scaled by ``factor`` (to a frame ``factor`` times the
    size: pixel centres at i + 0.5 map exactly)."""
    out = kp.clone()
    out[..., :2] *= factor
    return out
