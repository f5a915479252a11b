"""BDMM's training step [003 §3-4, Eq. 9].

A sample is a source frame and ``CLIP`` consecutive driving frames of the same video
(``ptx.training.shared_data``). The source is pre-warped to every driving frame
(``prewarp``); the ``GENERATED`` middle frames are generated in order, each from its
window of ``2 RADIUS + 1`` pre-warped frames (forward and backward propagation), its
structural input, the previous output (the source for the first, as the authors' code
does) and the previous structural bottleneck. Both are detached between frames (no
backpropagation through time: a choice the paper does not state).

Losses [Eq. 9]: ``w_l1`` L1 + ``w_per`` perceptual + ``w_gram`` Gram + ``w_cx`` contextual
(VGG-19; without its weights these three are dropped and the pixel L1 alone remains, noted
at the start) + ``w_adv`` LSGAN of the spatial critic on every generated frame (conditioned
on the source) + ``w_temp`` LSGAN of the temporal 3D critic on the generated sequence
(conditioned on the pre-warped sources). Adam for all; the critics' rate is
``d_lr_scale`` x the generator's; linear decay after ``lr_decay_start``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from ptx.methods.base import TrainSetup
from ptx.methods.bdmm.config import GENERATED, RADIUS
from ptx.methods.bdmm.discriminators import SpatialD, TemporalD
from ptx.methods.bdmm.losses import vgg_terms
from ptx.methods.bdmm.nets import Generator
from ptx.methods.bdmm.prewarp import Prewarp, structural_channels, structure_of
from ptx.methods.oneshot import OneShotTrainer
from ptx.nn.losses import gan_d_loss, gan_g_loss, split_real_fake
from ptx.nn.optim import LinearDecay, check_finite, requires_grad


def build_generator(cfg: Any) -> Generator:
    return Generator(cfg.ngf, cfg.style_dim, cfg.size, structural_channels(cfg.pose),
                     cfg.direction, cfg.dmm, str(cfg.norm))  # fmt: skip


class BdmmTrainer(OneShotTrainer):
    PARTS = ("g", "d", "dv", "opt_g", "opt_d")

    def __init__(self, setup: TrainSetup) -> None:
        cfg = self.cfg = setup.cfg
        self.device = setup.device
        torch.manual_seed(cfg.seed)
        self.g = build_generator(cfg).to(self.device)
        self.d = SpatialD(cfg.ndf).to(self.device)
        self.dv = TemporalD(cfg.ndf).to(self.device)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr, betas=betas)
        d_params = [*self.d.parameters(), *self.dv.parameters()]
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.lr * cfg.d_lr_scale, betas=betas)
        self.decay = LinearDecay(cfg.steps, cfg.lr_decay_start)
        self.vgg = setup.vgg.to(self.device) if setup.vgg is not None else None
        self.notes: list[str] = []
        self._lr = cfg.lr

    # --- generation -------------------------------------------------------------------
    def sequence(self, batch: Any) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """The generated middle frames and every driving frame's pre-warped source."""
        n, pose = batch.source.shape[0], self.cfg.pose
        block = lambda x, k: x[k * n : (k + 1) * n]  # noqa: E731
        prewarp = Prewarp(batch.source, batch.source_arrays["iuv"])
        with torch.no_grad():
            warped = [prewarp(block(batch.arrays["iuv"], k)) for k in range(batch.clip)]
        feats = [self.g.warp_features(w) for w in warped]
        style = self.g.style(batch.source)
        prev, memory, outs = batch.source, None, []
        for i in range(GENERATED):
            c = RADIUS + i
            code = structure_of(block(batch.pose, c), pose)
            out, memory = self.g(style, code, prev, memory, feats[c - RADIUS : c + RADIUS + 1])
            outs.append(out)
            prev, memory = out.detach(), memory.detach()
        return outs, warped

    def train_step(self, batch: Any, step: int) -> dict[str, float]:
        cfg = self.cfg
        self._lr = cfg.lr * self.decay(step)
        for group in self.opt_g.param_groups:
            group["lr"] = self._lr
        for group in self.opt_d.param_groups:
            group["lr"] = self._lr * cfg.d_lr_scale
        n = batch.source.shape[0]
        outs, warped = self.sequence(batch)
        reals = [batch.real[(RADIUS + i) * n : (RADIUS + i + 1) * n] for i in range(GENERATED)]
        conds = torch.stack(warped[RADIUS : RADIUS + GENERATED], 1)
        fake, real = torch.cat(outs), torch.cat(reals)
        src = batch.source.repeat(GENERATED, 1, 1, 1)
        fake_seq, real_seq = torch.stack(outs, 1), torch.stack(reals, 1)
        # critics
        requires_grad(self.d, True)
        requires_grad(self.dv, True)
        f_real, f_fake = split_real_fake(self.d(torch.cat([real, fake.detach()]),
                                                torch.cat([src, src])), len(real))  # fmt: skip
        v_real, v_fake = split_real_fake(self.dv(torch.cat([real_seq, fake_seq.detach()]),
                                                 torch.cat([conds, conds])), n)  # fmt: skip
        d_loss = gan_d_loss(f_real, f_fake, "lsgan") + gan_d_loss(v_real, v_fake, "lsgan")
        check_finite(step, d_loss, {"d": d_loss})
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        # generator
        requires_grad(self.d, False)
        requires_grad(self.dv, False)
        terms = {
            "adv": gan_g_loss(self.d(fake, src), "lsgan"),
            "temp": gan_g_loss(self.dv(fake_seq, conds), "lsgan"),
            "l1": F.l1_loss(fake, real),
        }
        if self.vgg is not None:
            terms.update(vgg_terms(self.vgg.net, fake, real))
        weights = {"adv": cfg.w_adv, "temp": cfg.w_temp, "l1": cfg.w_l1, "per": cfg.w_per,
                   "gram": cfg.w_gram, "cx": cfg.w_cx}  # fmt: skip
        total = sum(weights[k] * v for k, v in terms.items())
        check_finite(step, total, terms)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        out = {"g_total": float(total.item()), "d": float(d_loss.item())}
        out.update({k: float(v.item()) for k, v in terms.items()})
        return out

    @torch.no_grad()
    def eval_images(self, batch: Any) -> dict[str, torch.Tensor]:
        """Single driving frames (the nearest frame repeats over the window, as at a
        video's ends; the source as the previous output) and the warp-only baseline."""
        self.g.eval()
        warped = Prewarp(batch.source, batch.source_arrays["iuv"])(batch.arrays["iuv"])
        feats = [self.g.warp_features(warped)] * (2 * RADIUS + 1)
        code = structure_of(batch.pose, self.cfg.pose)
        out, _ = self.g(self.g.style(batch.source), code, batch.source, None, feats)
        self.g.train()
        return {"output": out, "warp": warped}
