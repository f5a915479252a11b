"""Silhouette agreement for fitting, without a differentiable renderer.

Two chamfer-style terms between the person mask and the projected body surface (a few
hundred surface vertices):

- *outside*: each projected vertex pays the squared distance from it to the mask (a
  distance transform of the mask, sampled bilinearly, so the gradient pulls the vertex
  into the mask);
- *coverage*: points sampled on the mask's outline pay the squared distance to the
  nearest projected vertex, so that every part of the mask gets some body.

Distances are in units of the frame size (its long side, for a frame of H x W).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ptx.body.nearest import nearest_points
from ptx.body.priors import gmof


@dataclass
class SilhouetteTargets:
    """Per-frame mask data on a device."""

    dist: torch.Tensor
    """(T, 1, R_h, R_w) distance to the mask, in frame sizes (0 inside)."""
    outline: torch.Tensor
    """(T, M, 2) outline points in pixels of the full frame."""
    outline_w: torch.Tensor
    """(T, M) 1 for real outline points, 0 for padding."""
    valid: torch.Tensor
    """(T,) 1 where the frame has a usable mask."""
    size: int
    """Frame size in pixels (the long side)."""
    shape: tuple[int, int] = (0, 0)
    """The frame's (H, W) in pixels."""


def silhouette_targets(
    mask: np.ndarray, n_outline: int = 192, resolution: int = 128, device: str = "cpu"
) -> SilhouetteTargets:
    """Prepare ``mask`` uint8 (T, H, W) (person probability x 255); the distance map has
    ``resolution`` pixels on its long side (at most the frame's)."""
    t_n, h, w = mask.shape[:3]
    size = max(h, w)
    res = min(resolution, size)
    res_h, res_w = max(1, round(res * h / size)), max(1, round(res * w / size))
    rng = np.random.default_rng(0)
    dist = np.zeros((t_n, 1, res_h, res_w), np.float32)
    pts = np.zeros((t_n, n_outline, 2), np.float32)
    weight = np.zeros((t_n, n_outline), np.float32)
    valid = np.zeros(t_n, np.float32)
    kernel = np.ones((3, 3), np.uint8)
    for t in range(t_n):
        m = (mask[t] >= 128).astype(np.uint8)
        if m.sum() < 16:
            continue
        valid[t] = 1
        small = cv2.resize(m, (res_w, res_h), interpolation=cv2.INTER_NEAREST)
        dist[t, 0] = cv2.distanceTransform(1 - small, cv2.DIST_L2, 3) / res
        edge = np.argwhere(m & (1 - cv2.erode(m, kernel)))
        if len(edge) == 0:
            continue
        pick = rng.choice(len(edge), size=min(n_outline, len(edge)), replace=False)
        pts[t, : len(pick)] = edge[pick][:, ::-1] + 0.5
        weight[t, : len(pick)] = 1
    dev = torch.device(device)
    return SilhouetteTargets(
        dist=torch.from_numpy(dist).to(dev),
        outline=torch.from_numpy(pts).to(dev),
        outline_w=torch.from_numpy(weight).to(dev),
        valid=torch.from_numpy(valid).to(dev),
        size=size,
        shape=(h, w),
    )


def concat_targets(parts: list[SilhouetteTargets]) -> SilhouetteTargets:
    """The silhouette targets of several sequences, one after the other."""
    if len(parts) == 1:
        return parts[0]
    m = max(p.outline.shape[1] for p in parts)
    if any(p.outline.shape[1] != m for p in parts):
        raise ValueError("silhouette targets of one fit need the same number of outline points")
    return SilhouetteTargets(
        dist=torch.cat([p.dist for p in parts]),
        outline=torch.cat([p.outline for p in parts]),
        outline_w=torch.cat([p.outline_w for p in parts]),
        valid=torch.cat([p.valid for p in parts]),
        size=parts[0].size,
        shape=parts[0].shape,
    )


def silhouette_loss(proj: torch.Tensor, tg: SilhouetteTargets, sigma: float = 0.03) -> torch.Tensor:
    """Mean silhouette disagreement per frame. ``proj`` (T, V, 2) projected vertices in
    pixels of the full frame. Distances pass through a Geman-McClure penalty of scale
    ``sigma`` (frame sizes), so that a mask that misses a limb or holds a stray blob does
    not drag the body far from its keypoints."""
    valid = tg.valid
    return (silhouette_frames(proj, tg, sigma) * valid).sum() / valid.sum().clamp_min(1)


_NEAREST_BLOCK = 64
"""Frames whose nearest-vertex search runs at once (bounds its (frames, M, V) scores)."""


def nearest_vertices(proj: torch.Tensor, tg: SilhouetteTargets) -> torch.Tensor:
    """int64 (T, M) the projected vertex nearest to each outline point (no gradient);
    ``proj`` (T, V, 2) in pixels of the full frame. On the CPU a sorted sweep
    (``ptx.body.nearest``), elsewhere a dense search."""
    if proj.device.type == "cpu":
        found = nearest_points(tg.outline.numpy(), proj.detach().numpy())
        return torch.from_numpy(found)
    a, b = tg.outline / tg.size, proj.detach() / tg.size
    with torch.no_grad():  # |a|^2 is the same for every vertex, so it is left out
        bb = (b * b).sum(-1)[:, None, :]
        return torch.cat([
            torch.baddbmm(bb[i:j], a[i:j], b[i:j].transpose(1, 2), alpha=-2).argmin(dim=2)
            for i, j in ((i, i + _NEAREST_BLOCK) for i in range(0, len(a), _NEAREST_BLOCK))
        ])  # fmt: skip


def silhouette_frames(
    proj: torch.Tensor,
    tg: SilhouetteTargets,
    sigma: float = 0.03,
    nearest: torch.Tensor | None = None,
) -> torch.Tensor:
    """(T,) the silhouette disagreement of each frame (see :func:`silhouette_loss`; frames
    without a usable mask count as they are: weigh them by ``tg.valid``). ``nearest``
    (T, M): the vertex that each outline point is measured to (default: the nearest one,
    :func:`nearest_vertices`; a fitter may reuse it for a few steps, as ICP does)."""
    dist, outline, ow = tg.dist, tg.outline, tg.outline_w
    h, w = tg.shape if tg.shape != (0, 0) else (tg.size, tg.size)
    extent = proj.new_tensor([w, h]) if h != w else tg.size
    grid = (proj / extent * 2 - 1)[:, :, None, :]  # (T, V, 1, 2)
    d_out = F.grid_sample(dist, grid, mode="bilinear", padding_mode="border", align_corners=False)
    outside = gmof(d_out[:, 0, :, 0], sigma).mean(1)
    idx = nearest_vertices(proj, tg) if nearest is None else nearest
    # the distance to the nearest vertex carries the gradient (as the minimum's would)
    a, b = outline / tg.size, proj / tg.size
    near = torch.gather(b, 1, idx[..., None].expand(-1, -1, 2))
    nearest_d = (a - near).pow(2).sum(-1).clamp_min(1e-12).sqrt()
    coverage = (gmof(nearest_d, sigma) * ow).sum(1) / ow.sum(1).clamp_min(1)
    return outside + coverage


def silhouette_iou(pred: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float (T,) IoU of two uint8 (T, H, W) masks (thresholded at 128)."""
    a, b = pred >= 128, mask >= 128
    inter = (a & b).sum((1, 2))
    union = (a | b).sum((1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)
