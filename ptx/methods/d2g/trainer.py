"""D2G-Net's optimisation: networks, optimizers, schedules, one training step, state.

Phases by step (``uv_warmup`` is 0 when a pretrained UV generator was loaded):

- ``[0, uv_warmup)``: the UV generator alone, on the IUV pseudo ground truth;
- ``[uv_warmup, uv_warmup + gan_start)``: everything but the GAN and temporal losses;
- after that: every loss.

Training items are pairs (t-1, t) (the method's clip of 2): the temporal loss compares
output t with output t-1 warped along the flow. Nothing here draws random numbers after
construction, so a run is a function of its seed, its data order and its step, which is
what makes ``--resume`` exact.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch.nn import functional as F

from ptx.methods.base import TrainSetup
from ptx.methods.d2g import losses as L
from ptx.methods.d2g.pretrain import uv_start
from ptx.methods.d2g.renderer import D2GGenerator, pose_channels
from ptx.nn import losses as NL
from ptx.nn.discriminator import MultiScaleDiscriminator
from ptx.nn.optim import LinearDecay, autocast, check_finite, requires_grad
from ptx.nn.texture import unwrap_texture
from ptx.nn.uv_generator import iuv_to_tensors


class D2GTrainer:
    """Owns the generator, discriminator, their optimizers and schedules."""

    def __init__(
        self,
        cfg: Any,
        n_backgrounds: int,
        device: torch.device,
        vgg: Any = None,
        uv_warmup: int = 0,
        ddp: bool = False,
        frame: tuple[int, int] | None = None,
    ) -> None:
        """``frame``: the run's (H, W) (the learned backgrounds' size; default square
        ``cfg.size``)."""
        self.cfg, self.device, self.uv_warmup = cfg, device, uv_warmup
        self.notes: list[str] = []
        self.uv_state: dict[str, torch.Tensor] | None = None
        """Pretrained UV generator weights to load when a new run starts."""
        torch.manual_seed(cfg.seed)
        self.G = D2GGenerator(cfg, n_backgrounds, frame).to(device)
        self.D = MultiScaleDiscriminator(
            pose_channels(cfg), cfg.d_width, cfg.d_layers, cfg.d_scales, cfg.width_cap
        ).to(device)
        cuda = device.type == "cuda"
        if cfg.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.vgg = vgg.to(device) if vgg is not None else None
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=betas)
        decay = LinearDecay(self.total_steps, cfg.lr_decay_start)
        self.sched_g = torch.optim.lr_scheduler.LambdaLR(self.opt_g, decay)
        self.sched_d = torch.optim.lr_scheduler.LambdaLR(self.opt_d, decay)
        self.scaler = torch.amp.GradScaler("cuda", enabled=False)  # bf16 needs no scaling
        self.amp = cuda and cfg.amp
        self.ddp = ddp
        self.find_unused: bool | None = None
        """Whether G's DDP wrapper looks for parameters without a gradient: only during
        the UV warm-up, whose steps run the UV generator alone (None: not wrapped yet)."""
        self._ddp_g: Any = None
        self.G_run: torch.nn.Module = self.G
        self.D_run: torch.nn.Module = self.D
        if ddp:
            self.D_run = self._distributed(self.D, find_unused=False)
        if cuda and cfg.compile:
            self.D_run = torch.compile(self.D_run)
        self._wrap_generator(find_unused=False)

    def _distributed(self, net: torch.nn.Module, find_unused: bool) -> torch.nn.Module:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(net, device_ids=ids, find_unused_parameters=find_unused)

    def _wrap_generator(self, find_unused: bool) -> None:
        """G as the training step calls it: under DDP (with ``find_unused_parameters``
        only while a step leaves parameters unused) and torch.compile when asked. Called
        again (on every rank at the same step) when the UV warm-up starts or ends."""
        if self.find_unused == find_unused:
            return
        self.find_unused = find_unused if self.ddp else None
        if self._ddp_g is not None:  # its gradient hooks would all-reduce a second time
            self._ddp_g._remove_autograd_hooks()
        run = self._ddp_g = self._distributed(self.G, find_unused) if self.ddp else None
        run = run or self.G
        if self.device.type == "cuda" and self.cfg.compile:
            run = torch.compile(run)
        self.G_run = run

    @property
    def total_steps(self) -> int:
        return self.uv_warmup + self.cfg.steps

    def phase(self, step: int) -> str:
        """``uv``, ``static`` (no GAN/temporal yet) or ``full`` at global step ``step``."""
        if step < self.uv_warmup:
            return "uv"
        return "static" if step - self.uv_warmup < self.cfg.gan_start else "full"

    def lr(self) -> float:
        return float(self.opt_g.param_groups[0]["lr"])

    def autocast(self) -> Any:
        return autocast(self.amp)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    # --- a new run ----------------------------------------------------------------------
    def init_from_data(self, data: Any) -> None:
        """Texture RGB unwrapped from the training frames through their IUV; backgrounds
        from the background stage; the pretrained UV generator when one was found."""
        ids = data.train_frame_ids()
        charts, _ = unwrap_texture(
            data.take("frames", ids), data.take("iuv", ids), self.cfg.tex_size
        )
        self.G.texture.set_rgb(charts.to(self.device))
        with torch.no_grad():
            bg = data.backgrounds.to(self.device).float() * (2.0 / 255.0) - 1.0
            self.G.background.copy_(bg)
        if self.uv_state is not None:
            self.G.uv_generator.load_state_dict(self.uv_state)

    # --- one step -----------------------------------------------------------------------
    def train_step(self, b: Any, step: int) -> dict[str, float]:
        """One optimisation step on batch ``b`` (pairs: first half t-1, second half t)."""
        cfg, phase = self.cfg, self.phase(step)
        if self.ddp:
            self._wrap_generator(find_unused=phase == "uv")
        self.G.train()
        pose, real = self.prepare_input(b.pose), self.prepare_input(b.real)
        iuv = b.arrays["iuv"]
        mask = b.arrays["mask"].to(torch.float32).mul_(1.0 / 255.0)
        part, uv_true = iuv_to_tensors(iuv)
        terms: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}
        with self.autocast():
            out = self.G_run(pose, iuv, b.video, uv_only=phase == "uv", bg_gate=mask)
            terms["part"], terms["uv"] = L.uv_losses(out.logits, out.uv, part, uv_true)
            weights.update(part=cfg.w_part, uv=cfg.w_uv)
            if phase != "uv":
                terms["mask"] = L.mask_loss(out.alpha, mask)
                terms["l2"] = F.mse_loss(out.output, real)
                terms["static"] = F.mse_loss(out.static, real)
                weights.update(mask=cfg.w_mask, l2=cfg.w_l2, static=cfg.w_static)
                if self.vgg is not None:
                    terms["vgg"] = self.vgg(out.output, real) + self.vgg(out.static, real)
                    weights["vgg"] = cfg.w_vgg
                else:
                    terms["l1"] = F.l1_loss(out.output, real) + F.l1_loss(out.static, real)
                    weights["l1"] = cfg.w_l1
            if phase == "full":
                feats = self._discriminate(self.D, pose, real, out.output, grad_d=False)
                real_f, fake_f = NL.split_real_fake(feats, len(real))
                terms["gan"] = NL.gan_g_loss(fake_f, cfg.gan_mode)
                terms["fm"] = NL.feature_matching(real_f, fake_f)
                weights.update(gan=cfg.w_gan, fm=cfg.w_fm)
                if b.flow is not None:
                    half = len(real) // 2
                    terms["temporal"] = NL.temporal_loss(
                        out.output[half:], out.output[:half], b.flow, b.flow_valid
                    )
                    weights["temporal"] = cfg.w_temporal
        total = sum(weights[k] * v.float() for k, v in terms.items())
        check_finite(step, total, terms)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        values = {k: float(v.detach()) for k, v in terms.items()}
        values["g_total"] = float(total.detach())
        if phase == "full":
            with self.autocast():
                feats = self._discriminate(self.D_run, pose, real, out.output.detach(), grad_d=True)
                real_f, fake_f = NL.split_real_fake(feats, len(real))
                d_loss = NL.gan_d_loss(real_f, fake_f, cfg.gan_mode)
            check_finite(step, d_loss, {"d": d_loss})
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
            values["d"] = float(d_loss.detach())
        with warnings.catch_warnings():  # D's schedule advances even in D-less phases
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)`")
            self.sched_g.step()
            self.sched_d.step()
        return values

    def _discriminate(self, d, pose, real, fake, grad_d: bool) -> NL.Features:
        """D on real and fake stacked (one call): activations, real first."""
        requires_grad(self.D, grad_d)
        try:
            return d(torch.cat([pose, pose]), torch.cat([real, fake.to(real.dtype)]))
        finally:
            requires_grad(self.D, True)

    # --- evaluation ---------------------------------------------------------------------
    @torch.no_grad()
    def eval_images(self, b: Any) -> dict[str, torch.Tensor]:
        """output | static composite | background of single frames."""
        self.G.eval()
        with self.autocast():
            o = self.G(self.prepare_input(b.pose), b.arrays["iuv"], b.video)
        self.G.train()
        return {"output": o.output, "static": o.static, "background": o.background}

    # --- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "sched_g": self.sched_g.state_dict(),
            "sched_d": self.sched_d.state_dict(),
            "scaler": self.scaler.state_dict(),
            "uv_warmup": self.uv_warmup,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.uv_warmup = int(state.get("uv_warmup", 0))
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for name, sched in (("sched_g", self.sched_g), ("sched_d", self.sched_d)):
            sched.load_state_dict(state[name])
            sched.lr_lambdas[0] = LinearDecay(self.total_steps, self.cfg.lr_decay_start)
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def build_trainer(setup: TrainSetup) -> D2GTrainer:
    """A D2G trainer; a new run looks for a compatible pretrained UV generator in the
    workspace (else warms the UV generator up on the subject first)."""
    cfg = setup.cfg
    uv_state, warmup, note = None, 0, ""
    if not setup.resume:
        uv_state, warmup, note = uv_start(setup.workspace, cfg)
    trainer = D2GTrainer(
        cfg, setup.n_videos, setup.device, setup.vgg, warmup, setup.ddp, setup.shape
    )
    trainer.uv_state = uv_state
    trainer.notes = [note] if note else []
    return trainer
