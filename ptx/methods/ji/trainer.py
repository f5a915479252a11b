"""Ji et al.'s training: four stages as phases of one run [002 §IV Implementation].

A sample is a (source frame, driving frame) pair of one video (``clip`` 1). The stages
(``config.stage_plan``; a branch ablation drops the stage of its missing branch):

1. ``geometry``: the 2.5D branch and MotionNet's encoder; L_iuv, the masked L1 of I_geo,
   BCE of m_geo.
2. ``motion``: MotionNet and the 2D branch, the rest frozen; L_motion, L_rec and BCE of
   the 2D branch.
3. ``joint``: everything end to end; all of the above plus L_rec and BCE of BlenderNet's
   output and LSGAN [Eq. 14] on it.
4. ``blend``: BlenderNet with its super-resolution block, the rest frozen; L_rec, BCE and
   LSGAN of the output.

The 2D branch's image is compared at the input resolution (the target area-downsampled),
the output at the output resolution. Which losses apply in which stage and the adversarial
loss's place (stages 3-4, on the output) are our reading: the paper lists the losses and
the stages, not which goes with which.

One Adam optimiser holds every generator parameter (one the discriminator's); a stage's
frozen modules get no gradient, so Adam leaves them and their moments untouched. The stage
is a function of the step alone, so a run resumed in any stage, or across a boundary, is
the run never interrupted.
"""

from __future__ import annotations

from typing import Any

import torch

from ptx.methods.base import TrainSetup
from ptx.methods.ji import losses as L
from ptx.methods.ji.baseline import coarse_warp
from ptx.methods.ji.config import stage_plan
from ptx.methods.ji.model import JiNet
from ptx.methods.ji.nets import Discriminator, shrink, small
from ptx.methods.oneshot import OneShotTrainer
from ptx.nn.losses import gan_d_loss, gan_g_loss
from ptx.nn.optim import LinearDecay, check_finite, requires_grad

VGG_TAPS = {0: 2, 1: 1, 2: 0}
"""Flow level -> VGG-19 activation of its scale (relu3_1 at 1/4, relu2_1, relu1_1)."""


class JiTrainer(OneShotTrainer):
    def __init__(self, setup: TrainSetup) -> None:
        cfg = self.cfg = setup.cfg
        self.device = setup.device
        torch.manual_seed(cfg.seed)
        self.g = JiNet(cfg).to(self.device)
        self.d = Discriminator(cfg.ndf, cfg.d_blocks).to(self.device)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr, betas=betas)
        self.decay = LinearDecay(cfg.steps, cfg.lr_decay_start)
        self.vgg = setup.vgg.net.to(self.device) if setup.vgg is not None else None
        self.plan = stage_plan(cfg)
        self.notes: list[str] = [
            "Stages: " + ", ".join(f"{n} to step {e}" for n, e in self.plan) + "."
        ]
        self._lr = cfg.lr

    def phase(self, step: int) -> str:
        for name, end in self.plan:
            if step < end:
                return name
        return self.plan[-1][0]

    # --- losses -----------------------------------------------------------------------
    def _features(self, image: torch.Tensor) -> list[torch.Tensor] | None:
        if self.vgg is None:
            return None
        with torch.no_grad():
            return self.vgg(image)

    def motion_terms(self, r, src, real) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        flows = [r[f"flow{i}"] for i in range(3)]
        fs, ft = self._features(src), self._features(real)
        cor = src.new_zeros(())
        for i in range(min(cfg.correct_levels, 3)):
            f = flows[i]
            if fs is None or ft is None:
                size = f.shape[-2:]
                a = torch.nn.functional.adaptive_avg_pool2d(src, size)
                b = torch.nn.functional.adaptive_avg_pool2d(real, size)
            else:
                a, b = fs[VGG_TAPS[i]], ft[VGG_TAPS[i]]
            cor = cor + L.correctness(a, b, f)
        return {
            "correct": cor,
            "affine": sum(L.affine_regularization(f) for f in flows),
            "tv": sum(L.total_variation(f) for f in flows),
            "consist": L.consistency(flows),
        }

    def rec(self, image, target) -> torch.Tensor:
        cfg = self.cfg
        return cfg.w_perc * L.pyramid_perceptual(image, target, self.vgg) + cfg.w_l1 * (
            (image - target).abs().mean()
        )

    def train_step(self, batch: Any, step: int) -> dict[str, float]:
        cfg = self.cfg
        stage = self.phase(step)
        self._lr = cfg.lr * self.decay(step)
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = self._lr
        requires_grad(self.g, False)
        for m in self.g.trained_in(stage):
            requires_grad(m, True)
        src, real = batch.source, batch.real
        iuv, src_iuv = batch.arrays["iuv"], batch.source_arrays["iuv"]
        mask = batch.arrays["mask"].float() / 255
        r = self.g(src, src_iuv, iuv, stage)
        real_lo, mask_lo, iuv_lo = shrink(real, cfg.sr), shrink(mask, cfg.sr), small(iuv, cfg.sr)
        terms: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}

        def add(name: str, value: torch.Tensor, w: float) -> None:
            terms[name], weights[name] = value, w

        if "geo" in r and stage in ("geometry", "joint"):
            uv, ce = L.iuv_loss(r["s_logits"], r["u"], r["v"], iuv_lo)
            add("uv", uv, cfg.w_uv)
            add("ce", ce, cfg.w_ce)
            add("geo_l1", L.masked_l1(r["geo"], real_lo, mask_lo), cfg.w_l1)
            add("geo_mask", L.mask_bce(r["geo_mask"], mask_lo), cfg.w_mask)
        if "app" in r and stage in ("motion", "joint"):
            m = self.motion_terms(r, shrink(src, cfg.sr), real_lo)
            for k, w in (("correct", cfg.w_cor), ("affine", cfg.w_reg), ("tv", cfg.w_tv),
                         ("consist", cfg.w_con)):  # fmt: skip
                add(k, m[k], w)
            add("app_rec", self.rec(r["app"], real_lo), 1.0)
            add("app_mask", L.mask_bce(r["app_mask"], mask_lo), cfg.w_mask)
        d_value = None
        if "out" in r:
            fake = r["out"]
            d_value = self._d_step(real, fake.detach(), step)
            requires_grad(self.d, False)
            add("gan", gan_g_loss(self.d(fake), "lsgan"), cfg.w_gan)
            requires_grad(self.d, True)
            add("out_rec", self.rec(fake, real), 1.0)
            add("out_mask", L.mask_bce(r["out_mask"], mask), cfg.w_mask)
        total = sum(weights[k] * v.float() for k, v in terms.items())
        check_finite(step, total, terms)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        out = {"g_total": float(total.detach())}
        out.update({k: float(v.detach()) for k, v in terms.items()})
        if d_value is not None:
            out["d"] = d_value
        return out

    def _d_step(self, real: torch.Tensor, fake: torch.Tensor, step: int) -> float:
        requires_grad(self.d, True)
        feats = self.d(torch.cat([real, fake]))
        n = real.shape[0]
        loss = gan_d_loss([[feats[0][0][:n]]], [[feats[0][0][n:]]], "lsgan")
        check_finite(step, loss, {"d": loss})
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return float(loss.detach())

    @torch.no_grad()
    def eval_images(self, batch: Any) -> dict[str, torch.Tensor]:
        """The output, the warp-only baseline (the source warped by the IUV coarse grid,
        ``ptx.perform.oneshot``'s baseline) and the branches' images (upsampled)."""
        self.g.eval()
        r = self.g(batch.source, batch.source_arrays["iuv"], batch.arrays["iuv"])
        self.g.train()
        up = lambda a: torch.nn.functional.interpolate(a, scale_factor=float(self.cfg.sr))  # noqa: E731
        out = {"output": r["out"].clamp(-1, 1)}
        out["warp"] = coarse_warp(batch.source, batch.source_arrays["iuv"], batch.arrays["iuv"])
        for k in ("app", "geo"):
            if k in r:
                out[k] = up(r[k]) if self.cfg.sr > 1 else r[k]
        return out
