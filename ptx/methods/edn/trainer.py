"""Everybody Dance Now's optimisation: the generator with previous-frame conditioning, the
two-frame discriminator, then the face GAN.

Phases by step:

- ``global``: with the local enhancer, its global part alone on half-resolution frames for
  ``global_steps`` (pix2pixHD's first stage); without it, the generator for ``steps``;
- ``local``: with the local enhancer, the whole generator for ``steps``;
- ``face``: ``face_steps`` of the face GAN. Only the face generator learns (the main
  generator is frozen) and only the face discriminator (EDN's ``niter_fix_main``).

A training item is a pair of consecutive frames (t-1, t). The generator makes
I_0 = G(x_0 ⊕ 0) and I_1 = G(x_1 ⊕ I_0), I_0 not detached; the discriminator sees
(x_0, x_1, I_0, I_1) against (x_0, x_1, real_0, real_1). Losses (pix2pixHD's, EDN's
weights): LSGAN summed over the discriminator's scales, feature matching (lambda 10 with
pix2pixHD's per-layer 4 / (layers + 1) and per-scale 1 / scales weights), VGG-19 (lambda 10)
or, without its weights, pixel L1, each averaged over the two frames. The face phase adds
the face discriminator's LSGAN on (face label crop, face crop) and ``w_face_rec`` times the
VGG-19 (or L1) loss on the face crops, and keeps the whole-frame losses on the refined
frames (through the frozen discriminator). Choices where EDN's description is silent: in
the face phase the frame fed back to t is the refined I_0 (as rendering does); one
discriminator serves the global and local phases (pix2pixHD trains a new one per stage).
Nothing draws random numbers after construction, so ``--resume`` is exact.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from ptx.errors import InputError
from ptx.methods.base import TrainSetup
from ptx.methods.edn.config import face_crop_side
from ptx.methods.edn.model import LABEL, EDNGenerator, FaceRefiner
from ptx.nn import losses as NL
from ptx.nn.discriminator import MultiScaleDiscriminator
from ptx.nn.face import crop
from ptx.nn.optim import LinearDecay, apply_losses, autocast, check_finite, requires_grad
from ptx.nn.pix2pixhd import half, pix2pixhd_init


@dataclass
class PhasedDecay:
    """Learning-rate factor over consecutive phases of ``lengths`` steps: each phase starts
    at 1 and decays linearly to 0 from ``start`` of its length (pix2pixHD restarts the
    schedule for the local enhancer)."""

    lengths: tuple[int, ...]
    start: float

    def __call__(self, step: int) -> float:
        for n in self.lengths:
            if step < n:
                return LinearDecay(n, self.start)(step)
            step -= n
        return 0.0


class EDNTrainer:
    """Owns the generator, the pair discriminator, the face GAN, their optimizers and
    schedules."""

    def __init__(self, cfg: Any, device: torch.device, vgg: Any = None, ddp: bool = False):
        self.cfg, self.device = cfg, device
        self.notes: list[str] = []
        self._face = False
        torch.manual_seed(cfg.seed)
        cap = cfg.d_width * 2**cfg.d_layers  # pix2pixHD's discriminator has no width cap
        self.G = EDNGenerator(cfg).to(device)
        self.D = MultiScaleDiscriminator(
            2 * LABEL, cfg.d_width, cfg.d_layers, cfg.d_scales, cap, image_channels=6
        ).to(device)
        self.F = FaceRefiner(cfg, face_crop_side(cfg)).to(device) if cfg.face_gan else None
        self.FD = (
            MultiScaleDiscriminator(LABEL, cfg.d_width, cfg.face_d_layers, 1, cap).to(device)
            if cfg.face_gan
            else None
        )
        for net in (self.G, self.D, self.F, self.FD):
            if net is not None:
                pix2pixhd_init(net)
        if cfg.channels_last:
            for net in (self.G, self.D):
                net.to(memory_format=torch.channels_last)
        self.vgg = vgg.to(device) if vgg is not None else None
        betas = (cfg.beta1, cfg.beta2)
        main = PhasedDecay(self._main_lengths(), cfg.lr_decay_start)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        self.sched = [
            torch.optim.lr_scheduler.LambdaLR(self.opt_g, main),
            torch.optim.lr_scheduler.LambdaLR(self.opt_d, main),
        ]
        self.opt_f = self.opt_fd = None
        if self.F is not None:
            face = LinearDecay(cfg.face_steps, cfg.lr_decay_start)
            self.opt_f = torch.optim.Adam(self.F.parameters(), lr=cfg.lr, betas=betas)
            self.opt_fd = torch.optim.Adam(self.FD.parameters(), lr=cfg.lr, betas=betas)
            self.sched += [
                torch.optim.lr_scheduler.LambdaLR(self.opt_f, face),
                torch.optim.lr_scheduler.LambdaLR(self.opt_fd, face),
            ]
        cuda = device.type == "cuda"
        self.amp = cuda and cfg.amp
        self.G_run, self.D_run = self.G, self.D
        self.F_run, self.FD_run = self.F, self.FD
        if ddp:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if cuda else None
            self.G_run = DDP(self.G, device_ids=ids, find_unused_parameters=True)
            self.D_run = DDP(self.D, device_ids=ids)
            if self.F is not None:
                self.F_run = DDP(self.F, device_ids=ids)
                self.FD_run = DDP(self.FD, device_ids=ids)

    # --- phases -------------------------------------------------------------------------
    def _main_lengths(self) -> tuple[int, ...]:
        cfg = self.cfg
        return (cfg.global_steps, cfg.steps) if cfg.local_enhancer else (cfg.steps,)

    @property
    def total_steps(self) -> int:
        return sum(self._main_lengths()) + (self.cfg.face_steps if self.cfg.face_gan else 0)

    def phase(self, step: int) -> str:
        cfg = self.cfg
        if cfg.local_enhancer and step < cfg.global_steps:
            return "global"
        if step < sum(self._main_lengths()):
            return "local" if cfg.local_enhancer else "global"
        return "face"

    def lr(self) -> float:
        """The learning rate of the generator being trained (the face one in its phase)."""
        opt = self.opt_f if self._face else self.opt_g
        return float(opt.param_groups[0]["lr"])

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def init_from_data(self, data: Any) -> None:
        """Nothing to initialise from the data (every network starts from its seed)."""

    # --- losses -------------------------------------------------------------------------
    def _rec(self, fake: torch.Tensor, real: torch.Tensor) -> tuple[str, torch.Tensor, float]:
        """(name, the reconstruction loss of images (B, 3, H, W), its weight)."""
        if self.vgg is not None:
            return "vgg", self.vgg(fake, real), self.cfg.w_vgg
        return "l1", F.l1_loss(fake, real), self.cfg.w_l1

    def _frame_losses(self, cond, real_pair, fake_pair, frames, reals, terms, weights):
        """Adversarial, feature matching and reconstruction of generated frame pairs."""
        cfg = self.cfg
        feats = self._discriminate(self.D_run, self.D, cond, real_pair, fake_pair, grad_d=False)
        real_f, fake_f = NL.split_real_fake(feats, len(cond))
        terms["gan"] = NL.gan_g_loss(fake_f, cfg.gan_mode) * cfg.d_scales
        terms["fm"] = NL.feature_matching(real_f, fake_f) * 4.0
        weights.update(gan=cfg.w_gan, fm=cfg.w_fm)
        recs = [self._rec(f, r) for f, r in zip(frames, reals, strict=True)]
        name, weight = recs[0][0], recs[0][2]
        terms[name] = sum(r[1] for r in recs) / len(recs)
        weights[name] = weight

    def _discriminate(self, run, d, cond, real, fake, grad_d: bool) -> NL.Features:
        """``run`` (``d`` or its DDP wrapper) on real and fake stacked: activations, real
        first."""
        requires_grad(d, grad_d)
        try:
            return run(torch.cat([cond, cond]), torch.cat([real, fake.to(real.dtype)]))
        finally:
            requires_grad(d, True)

    def _update_d(self, run, d, opt, cond, real, fake, scales: int, step: int) -> float:
        with autocast(self.amp):
            feats = self._discriminate(run, d, cond, real, fake.detach(), grad_d=True)
            real_f, fake_f = NL.split_real_fake(feats, len(cond))
            loss = NL.gan_d_loss(real_f, fake_f, self.cfg.gan_mode) * scales
        check_finite(step, loss, {"d": loss})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    # --- one step -----------------------------------------------------------------------
    def train_step(self, b: Any, step: int) -> dict[str, float]:
        """One step on batch ``b`` of pairs (first half t-1, second half t)."""
        phase = self.phase(step)
        self._face = phase == "face"
        self.G.train()
        n = len(b.real) // 2
        pose, real = self._input(b.pose), self._input(b.real)
        x0, x1, r0, r1 = pose[:n], pose[n:], real[:n], real[n:]
        if phase == "face":
            return self._face_step(b, x0, x1, r0, r1, step)
        gen = self.G_run
        if phase == "global" and self.cfg.local_enhancer:
            x0, x1, r0, r1 = half(x0), half(x1), half(r0), half(r1)
            gen = self.G.forward_global
        terms: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}
        cond, real_pair = torch.cat([x0, x1], 1), torch.cat([r0, r1], 1)
        with autocast(self.amp):
            i0 = gen(x0, torch.zeros_like(r0))
            i1 = gen(x1, i0)
            fake_pair = torch.cat([i0, i1], 1)
            self._frame_losses(cond, real_pair, fake_pair, (i0, i1), (r0, r1), terms, weights)
        values = apply_losses(self.opt_g, terms, weights, step)
        values["d"] = self._update_d(
            self.D_run, self.D, self.opt_d, cond, real_pair, fake_pair, self.cfg.d_scales, step
        )
        self._advance(self.sched[:2])
        return values

    def _face_step(self, b, x0, x1, r0, r1, step: int) -> dict[str, float]:
        cfg = self.cfg
        n = len(x0)
        h, w = x0.shape[-2:]
        kp0, kp1 = b.keypoints[:n], b.keypoints[n:]
        terms: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}
        with autocast(self.amp):
            with torch.no_grad():
                i0 = self.G(x0, torch.zeros_like(r0))
            box0, found0 = self.F.boxes(kp0, h, w)
            f0, face0 = self.F_run(i0.float(), x0, box0, found0)
            with torch.no_grad():
                i1 = self.G(x1, f0.detach())
            box1, found1 = self.F.boxes(kp1, h, w)
            f1, face1 = self.F_run(i1.float(), x1, box1, found1)
            cond, real_pair = torch.cat([x0, x1], 1), torch.cat([r0, r1], 1)
            fake_pair = torch.cat([f0, f1], 1)
            self._frame_losses(cond, real_pair, fake_pair, (f0, f1), (r0, r1), terms, weights)
            side = self.F.side
            found = torch.cat([found0, found1])
            faces = torch.cat([face0, face1])[found]
            labels = torch.cat([crop(x0, box0, side), crop(x1, box1, side)])[found]
            reals = torch.cat([crop(r0, box0, side), crop(r1, box1, side)])[found]
            if len(faces):
                feats = self._discriminate(self.FD_run, self.FD, labels, reals, faces, False)
                _, fake_f = NL.split_real_fake(feats, len(labels))
                terms["face_gan"] = NL.gan_g_loss(fake_f, cfg.gan_mode)
                name, rec, weight = self._rec(faces, reals)
                terms[f"face_{name}"] = rec
                weights.update(face_gan=cfg.w_gan, **{f"face_{name}": cfg.w_face_rec * weight})
        values = apply_losses(self.opt_f, terms, weights, step)
        if len(faces):
            values["face_d"] = self._update_d(
                self.FD_run, self.FD, self.opt_fd, labels, reals, faces, 1, step
            )
        self._advance(self.sched[2:])
        return values

    @staticmethod
    def _advance(schedulers: list) -> None:
        with warnings.catch_warnings():  # a discriminator may skip a step (no face found)
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`")
            for s in schedulers:
                s.step()

    # --- evaluation ---------------------------------------------------------------------
    @torch.no_grad()
    def eval_images(self, b: Any) -> dict[str, torch.Tensor]:
        """Single frames rendered after a blank previous frame (the first frame of a
        sequence; ``ptx score`` renders whole sequences with feedback): the output (face
        refined) | the generator's frame."""
        self.G.eval()
        pose = self._input(b.pose)
        with autocast(self.amp):
            frame = self.G(pose, torch.zeros_like(b.real)).float()
        out = frame
        if self.F is not None and b.keypoints is not None:
            boxes, found = self.F.boxes(b.keypoints, *pose.shape[-2:])
            out, _ = self.F(frame, pose, boxes, found)
        self.G.train()
        return {"output": out, "generator": frame}

    # --- state --------------------------------------------------------------------------
    def _parts(self) -> dict[str, Any]:
        parts = {"generator": self.G, "discriminator": self.D, "opt_g": self.opt_g,
                 "opt_d": self.opt_d}  # fmt: skip
        if self.F is not None:
            parts.update(face_generator=self.F, face_discriminator=self.FD, opt_f=self.opt_f,
                         opt_fd=self.opt_fd)  # fmt: skip
        return parts

    def state_dict(self) -> dict[str, Any]:
        state = {k: v.state_dict() for k, v in self._parts().items()}
        state["schedulers"] = [s.state_dict() for s in self.sched]
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, v in self._parts().items():
            v.load_state_dict(state[k])
        main = PhasedDecay(self._main_lengths(), self.cfg.lr_decay_start)
        face = LinearDecay(self.cfg.face_steps, self.cfg.lr_decay_start)
        for i, (s, saved) in enumerate(zip(self.sched, state["schedulers"], strict=True)):
            s.load_state_dict(saved)
            s.lr_lambdas[0] = main if i < 2 else face


def build_trainer(setup: TrainSetup) -> EDNTrainer:
    cfg = setup.cfg
    if cfg.face_gan and face_crop_side(cfg) > min(setup.shape):
        h, w = setup.shape
        raise InputError(
            f"The {face_crop_side(cfg)}-px face box does not fit this run's {h}x{w} frame.",
            "Lower face_box, or set face_gan=false.",
        )
    return EDNTrainer(cfg, setup.device, setup.vgg, setup.ddp)
