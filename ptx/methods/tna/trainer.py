"""TNA's optimisation: the UV generator, the RGB texture and the backgrounds, trained by
the image and mask losses backpropagated through the texture sampling (TNA's scheme), plus
the UV and part supervision against the body-model IUV (its initialisation from DensePose).

Phases by step: ``[0, uv_warmup_steps)`` the UV generator alone on the IUV pseudo ground
truth (as D2G-Net warms up); then every loss (``texture``). No adversarial or temporal
loss: TNA has none. Nothing draws random numbers after construction, so ``--resume`` is
exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from ptx.methods.base import TrainSetup
from ptx.methods.tna.model import TNAGenerator
from ptx.nn.losses import mask_loss
from ptx.nn.optim import LinearDecay, autocast, check_finite
from ptx.nn.texture import unwrap_texture
from ptx.nn.uv_generator import iuv_to_tensors, uv_losses


class TNATrainer:
    """Owns the generator, its optimizer and its schedule."""

    def __init__(self, cfg: Any, n_backgrounds: int, device: torch.device, vgg: Any = None,
                 ddp: bool = False, frame: tuple[int, int] | None = None) -> None:  # fmt: skip
        self.cfg, self.device = cfg, device
        self.notes: list[str] = []
        torch.manual_seed(cfg.seed)
        self.G = TNAGenerator(cfg, n_backgrounds, frame).to(device)
        if cfg.channels_last:
            self.G.to(memory_format=torch.channels_last)
        self.vgg = vgg.to(device) if vgg is not None else None
        self.opt = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, LinearDecay(self.total_steps, cfg.lr_decay_start)
        )
        cuda = device.type == "cuda"
        self.amp = cuda and cfg.amp
        self.G_run: torch.nn.Module = self.G
        if ddp:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if cuda else None
            self.G_run = DDP(self.G, device_ids=ids, find_unused_parameters=True)
        if cuda and cfg.compile:
            self.G_run = torch.compile(self.G_run)

    @property
    def total_steps(self) -> int:
        return self.cfg.uv_warmup_steps + self.cfg.steps

    def phase(self, step: int) -> str:
        return "uv" if step < self.cfg.uv_warmup_steps else "texture"

    def lr(self) -> float:
        return float(self.opt.param_groups[0]["lr"])

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if self.cfg.channels_last and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def init_from_data(self, data: Any) -> None:
        """Texture unwrapped from the training frames through their IUV; backgrounds from
        the background stage."""
        ids = data.train_frame_ids()
        charts, _ = unwrap_texture(
            data.take("frames", ids), data.take("iuv", ids), self.cfg.tex_size
        )
        self.G.texture.set_rgb(charts.to(self.device))
        with torch.no_grad():
            self.G.background.copy_(data.backgrounds.to(self.device).float() * (2 / 255) - 1)

    def train_step(self, b: Any, step: int) -> dict[str, float]:
        cfg, phase = self.cfg, self.phase(step)
        self.G.train()
        pose, real = self._input(b.pose), self._input(b.real)
        mask = b.arrays["mask"].to(torch.float32).mul_(1.0 / 255.0)
        part, uv_true = iuv_to_tensors(b.arrays["iuv"])
        terms: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}
        with autocast(self.amp):
            out = self.G_run(pose, b.video, uv_only=phase == "uv", bg_gate=mask)
            terms["part"], terms["uv"] = uv_losses(out.logits, out.uv, part, uv_true)
            weights.update(part=cfg.w_part, uv=cfg.w_uv)
            if phase != "uv":
                terms["mask"] = mask_loss(out.alpha, mask)
                terms["l2"] = F.mse_loss(out.output, real)
                weights.update(mask=cfg.w_mask, l2=cfg.w_l2)
                if self.vgg is not None:
                    terms["vgg"], weights["vgg"] = self.vgg(out.output, real), cfg.w_vgg
                else:
                    terms["l1"], weights["l1"] = F.l1_loss(out.output, real), cfg.w_l1
        total = sum(weights[k] * v.float() for k, v in terms.items())
        check_finite(step, total, terms)
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        self.sched.step()
        values = {k: float(v.detach()) for k, v in terms.items()}
        values["g_total"] = float(total.detach())
        return values

    @torch.no_grad()
    def eval_images(self, b: Any) -> dict[str, torch.Tensor]:
        """output | texture alone (over black) | background."""
        self.G.eval()
        with autocast(self.amp):
            o = self.G(self._input(b.pose), b.video)
        self.G.train()
        black = -torch.ones_like(o.fg)
        texture = o.fg * o.alpha + black * (1.0 - o.alpha)
        return {"output": o.output, "texture": texture, "background": o.background}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.G.state_dict(), "opt": self.opt.state_dict(),
                "sched": self.sched.state_dict()}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["generator"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.sched.lr_lambdas[0] = LinearDecay(self.total_steps, self.cfg.lr_decay_start)


def build_trainer(setup: TrainSetup) -> TNATrainer:
    return TNATrainer(setup.cfg, setup.n_videos, setup.device, setup.vgg, setup.ddp, setup.shape)
