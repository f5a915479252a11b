"""DwNet's training step [DwNet §3.2, Eq. 2-7].

A sample is a source frame i and three consecutive driving frames j, j+1, j+2 of the same
video (``ptx.training.shared_data``: ``clip`` = 3). The three frames are generated
recurrently: the first with the source standing in for the previous frame [Eq. 2], the
next ones from the previously *generated* frame [Eq. 3] (the real previous frame would
let the generator ignore the source). The previous frame is detached (no backpropagation
through time; the paper does not say, the released code detaches).

Losses (pix2pixHD's) [Eq. 4-7]: LSGAN with a multi-scale patch critic conditioned on the
driving IUV; L_rec = feature matching on the critic's layers + VGG-19 perceptual, weighted
lambda = 10; summed over the three frames. Without the VGG-19 weights, pixel L1 replaces
the perceptual term (noted at the start). One Adam step of G and one of D per sample
(lr 2e-4, beta1 0.5, linear decay to 0 over training).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from ptx.methods.base import TrainSetup
from ptx.methods.dwnet.grids import coarse_flow
from ptx.methods.dwnet.nets import Generator
from ptx.methods.oneshot import OneShotTrainer
from ptx.nn.discriminator import MultiScaleDiscriminator
from ptx.nn.losses import feature_matching, gan_d_loss, gan_g_loss, split_real_fake
from ptx.nn.optim import LinearDecay, check_finite, requires_grad
from ptx.nn.warp import warp_backward


def build_generator(cfg: Any) -> Generator:
    return Generator(
        cfg.ngf,
        cfg.n_blocks,
        cfg.refine_blocks,
        cfg.refine,
        cfg.previous,
        cfg.downs,
        cfg.norm,
        cfg.refine_region,
    )


class DwNetTrainer(OneShotTrainer):
    def __init__(self, setup: TrainSetup) -> None:
        cfg = self.cfg = setup.cfg
        self.device = setup.device
        torch.manual_seed(cfg.seed)
        self.g = build_generator(cfg).to(self.device)
        self.d = MultiScaleDiscriminator(3, cfg.ndf, cfg.d_layers, cfg.d_scales).to(self.device)
        if cfg.channels_last:  # measured ~2x faster steps on 2 CPU cores at 64 px
            self.g.to(memory_format=torch.channels_last)
            self.d.to(memory_format=torch.channels_last)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr, betas=betas)
        self.decay = LinearDecay(cfg.steps, cfg.lr_decay_start)
        self.vgg = setup.vgg.to(self.device) if setup.vgg is not None else None
        self.notes: list[str] = []
        self._lr = cfg.lr

    # --- generation -------------------------------------------------------------------
    def generate(self, batch: Any, k: int, prev: torch.Tensor, prev_iuv: torch.Tensor):
        """Frame block ``k`` of ``batch`` from the source and the previous frame."""
        n = batch.source.shape[0]
        iuv = batch.arrays["iuv"][k * n : (k + 1) * n]
        src_iuv = batch.source_arrays["iuv"]
        c_src = coarse_flow(src_iuv, iuv, self.cfg.coarse)
        c_prev = c_src if prev_iuv is src_iuv else coarse_flow(prev_iuv, iuv, self.cfg.coarse)
        pose = batch.pose[k * n : (k + 1) * n]
        return self.g(batch.source, c_src, prev, c_prev, pose), iuv, c_src

    def sequence(self, batch: Any) -> list[torch.Tensor]:
        """The ``clip`` frames generated recurrently (previous frames detached)."""
        prev, prev_iuv = batch.source, batch.source_arrays["iuv"]
        outs = []
        for k in range(batch.clip):
            out, prev_iuv, _ = self.generate(batch, k, prev, prev_iuv)
            outs.append(out)
            prev = out.detach()
        return outs

    def train_step(self, batch: Any, step: int) -> dict[str, float]:
        cfg = self.cfg
        self._lr = cfg.lr * self.decay(step)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = self._lr
        fake = torch.cat(self.sequence(batch))
        real, pose = batch.real, batch.pose
        n = real.shape[0]
        # discriminator
        requires_grad(self.d, True)
        feats = self.d(torch.cat([pose, pose]), torch.cat([real, fake.detach()]))
        f_real, f_fake = split_real_fake(feats, n)
        d_loss = gan_d_loss(f_real, f_fake, cfg.gan_mode)
        check_finite(step, d_loss, {"d": d_loss})
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        # generator
        requires_grad(self.d, False)
        feats = self.d(torch.cat([pose, pose]), torch.cat([real, fake]))
        f_real, f_fake = split_real_fake(feats, n)
        terms = {"gan": gan_g_loss(f_fake, cfg.gan_mode), "fm": feature_matching(f_real, f_fake)}
        if self.vgg is not None:
            terms["vgg"] = self.vgg(fake, real)
        else:
            terms["l1"] = F.l1_loss(fake, real)
        rec = sum(v for k, v in terms.items() if k != "gan")
        total = cfg.w_gan * terms["gan"] + cfg.w_rec * rec
        check_finite(step, total, terms)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        out = {"g_total": total.item(), "d": d_loss.item()}
        out.update({k: v.item() for k, v in terms.items()})
        return out

    @torch.no_grad()
    def eval_images(self, batch: Any) -> dict[str, torch.Tensor]:
        """The one-shot output of single frames (the source as the previous frame, Eq. 2)
        and the warp-only baseline (the source warped by the coarse grid)."""
        self.g.eval()
        out, _, c_src = self.generate(batch, 0, batch.source, batch.source_arrays["iuv"])
        self.g.train()
        warped, _ = warp_backward(batch.source, c_src)
        return {"output": out, "warp": warped}
