"""Ji et al.'s losses [002 §III-E, Eq. 10-14].

- L_motion [Eq. 10]: GFLA's perceptual correctness (for each driving position, the cosine
  similarity of the warped source feature with the target feature, over the best
  similarity any source position reaches, through exp(-x)), GFLA's affine regularisation
  (the flow of every 3x3 neighbourhood minus its least-squares affine fit, squared: a
  constant projection, since the fit is linear in the flow), total variation per level,
  and the consistency of the finer flows with the coarsest (detached, upsampled) one.
  Correctness compares VGG-19 features at the flow's scale (relu3_1 at 1/4, relu2_1 at
  1/2, relu1_1 at 1/1); without VGG weights, the pictures themselves at that scale.
- L_iuv [Eq. 11]: the L1 of U and V weighted by the predicted S-hat on each pixel's true
  part, plus the parts' cross-entropy.
- L_rec [Eq. 12]: an image-pyramid perceptual loss (VGG-19 relu1_1..relu5_1 at scales 1,
  1/2, 1/4 down to 16 px; the mean absolute difference per layer as the cited
  implementations [FOMM, MRAA] compute it, where Eq. 12 writes a norm) plus L1; without
  VGG weights the pyramid compares pixels. The 2.5D image's L1 is masked to the person
  (the pseudo mask), as §III-E b says.
- L_mask [Eq. 13]: BCE of each head's mask logits against the pseudo mask.
"""

from __future__ import annotations

import functools

import torch
from torch.nn import functional as F

from ptx.methods.ji.nets import iuv_parts
from ptx.nn.uv_generator import N_PARTS
from ptx.nn.warp import warp_backward


def correctness(src: torch.Tensor, tgt: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """GFLA's perceptual correctness of ``flow`` (n, 2, h, w) for features (n, C, h, w)."""
    warped, _ = warp_backward(src, flow)
    t = F.normalize(tgt.flatten(2).float(), dim=1)
    with torch.no_grad():
        s = F.normalize(src.flatten(2).float(), dim=1)
        best = torch.bmm(t.transpose(1, 2), s).amax(-1).clamp_min(1e-6)
    cor = (t * F.normalize(warped.flatten(2), dim=1)).sum(1)
    return torch.exp(-cor / best).mean()


@functools.lru_cache(maxsize=2)
def _affine_projection(k: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(float(k)), torch.arange(float(k)), indexing="ij")
    x = torch.stack([xs.flatten(), ys.flatten(), torch.ones(k * k)], 1).double()
    return (torch.eye(k * k, dtype=torch.float64) - x @ torch.linalg.pinv(x)).float()


def affine_regularization(flow: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Mean squared residual of the flow's least-squares affine fit on k x k patches."""
    n = flow.shape[0]
    patches = F.unfold(flow.float(), k).view(n, 2, k * k, -1)
    res = torch.einsum("ij,ncjl->ncil", _affine_projection(k).to(flow.device), patches)
    return (res**2).mean()


def total_variation(flow: torch.Tensor) -> torch.Tensor:
    return (flow[..., 1:, :] - flow[..., :-1, :]).abs().mean() + (
        flow[..., 1:] - flow[..., :-1]
    ).abs().mean()


def consistency(flows: list[torch.Tensor]) -> torch.Tensor:
    """L1 of the finer flows against the coarsest one as a soft label (detached)."""
    base = flows[0].detach()
    loss = flows[0].new_zeros(())
    for f in flows[1:]:
        scale = f.shape[-1] / base.shape[-1]
        label = scale * F.interpolate(base, size=f.shape[-2:], mode="bilinear")
        loss = loss + (f - label).abs().mean()
    return loss


def iuv_loss(s_logits, u_hat, v_hat, iuv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(UV L1 weighted by S-hat on the true part, parts' CE) against uint8 IUV (n, 3, h, w)."""
    part, u, v = iuv_parts(iuv)
    on = F.one_hot(part, N_PARTS + 1)[..., 1:].permute(0, 3, 1, 2).float()
    probs = torch.softmax(s_logits.float(), 1)[:, 1:]
    err = (u[:, None] - u_hat).abs() + (v[:, None] - v_hat).abs()
    l1 = (probs * on * err).sum() / on.sum().clamp_min(1)
    return l1, F.cross_entropy(s_logits.float(), part)


def pyramid_perceptual(x: torch.Tensor, y: torch.Tensor, net) -> torch.Tensor:
    """Eq. 12's perceptual term over scales 1, 1/2, 1/4 (VGG-19 ``net`` or pixels)."""
    loss = x.new_zeros((), dtype=torch.float32)
    for scale in (1, 2, 4):
        if scale > 1 and (min(x.shape[-2:]) // scale < 16 or min(x.shape[-2:]) % scale):
            break
        xs, ys = (F.avg_pool2d(a, scale) if scale > 1 else a for a in (x, y))
        if net is None:
            loss = loss + (xs - ys).abs().mean()
            continue
        fx = net(xs)
        with torch.no_grad():
            fy = net(ys)
        for a, b in zip(fx, fy, strict=True):
            loss = loss + (a - b).abs().mean()
    return loss


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return ((x - y).abs() * mask).sum() / (mask.sum() * x.shape[1]).clamp_min(1)


def mask_bce(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits.float(), mask)
