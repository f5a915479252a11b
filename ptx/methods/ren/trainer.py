"""Ren et al.'s optimisation: G1 with its three discriminators (coarse, then full
resolution), then G2 with its own three while G1 is frozen.

A training item is ``CLIP`` = 11 consecutive frames; the outputs are its three middle
frames (M = 3, for the temporal discriminator) and the rest are the frames their windows
reach (K = 2 each way for G1; G2 at t reads G1 at t-2..t+2, so 4 each way). The trainer
redraws the limb maps from the keypoints, augmented first (``ptx.methods.ren.poses``).

Per stage s (paper Eq. 1-4, ``papers/methods.md`` (a)):

- D_ps (paired, single frame): conditioned on the stage's input (G1: the limb-map window
  of the *unaugmented* poses, as the real pair (x_t, f_t) of Eq. 1 is; G2: the stack of G1
  pictures it refines); real = the masked frame over the solid colour.
- D_ts (temporal, unconditioned): M = 3 consecutive pictures stacked along channels.
- D_ws (unpaired, single frame, only with ``unpaired``): conditioned on limb maps; real =
  a recorded pair (unaugmented maps, masked frame), fake = (bank poses, their picture).
- Generator: adversarial terms of the three (the unpaired ones, and D_t on the unpaired
  triple, times ``w_unpaired``: the unpaired branch has no ground truth, so no
  reconstruction or feature matching there), lambda_fm = 10 times feature matching on D_p
  and D_t, lambda_vgg = 10 times VGG-19 (pixel L1 without its weights), and ptx's BCE of the
  alpha against the mask.

Phases: ``coarse`` (G1 at half resolution: frames average-pooled, keypoints halved, limbs
drawn at half size), ``stage1`` (G1 at full resolution), ``stage2`` (G2; G1 frozen and its
pictures computed from augmented poses). The learning rate decays linearly per stage.
Every random number comes from torch's global generator, so ``--resume`` is exact.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from ptx.errors import InputError
from ptx.methods.base import TrainSetup
from ptx.methods.ren.config import M_FRAMES, unpaired_names
from ptx.methods.ren.model import RenNets, alpha_of, g1_offsets
from ptx.methods.ren.posebank import BODY_JOINTS, PoseBank, fit_to, read_bank
from ptx.methods.ren.poses import augment, draw, drop_limbs, limb_channels, scaled, windows
from ptx.nn import losses as NL
from ptx.nn.discriminator import MultiScaleDiscriminator
from ptx.nn.optim import LinearDecay, apply_losses, autocast, check_finite, requires_grad
from ptx.nn.pix2pixhd import half, pix2pixhd_init

CLIP = 11
"""Frames per training item: M = 3 outputs and 2 * 2K = 8 frames of context (K = 2)."""


def _triples(x: torch.Tensor) -> torch.Tensor:
    """(M * B, C, H, W) in blocks of frames -> (B, M * C, H, W), frames in order."""
    m = M_FRAMES
    b = len(x) // m
    return x.view(m, b, *x.shape[1:]).transpose(0, 1).reshape(b, m * x.shape[1], *x.shape[2:])


class RenTrainer:
    """Owns G1, G2, the six discriminators, their optimizers and schedules, the unpaired
    pose bank."""

    def __init__(self, setup: TrainSetup) -> None:
        cfg, device = setup.cfg, setup.device
        self.cfg, self.device, self.frame = cfg, device, setup.shape
        self.notes: list[str] = []
        if setup.ddp:
            raise InputError("ren does not train under torchrun (DDP) yet.", "Use one process.")
        torch.manual_seed(cfg.seed)
        self.nets = RenNets(cfg, setup.n_videos, self.frame).to(device)
        n, c = len(g1_offsets(cfg)), limb_channels()
        unpaired = bool(unpaired_names(cfg))

        def d(cond: int, image: int) -> MultiScaleDiscriminator:
            net = MultiScaleDiscriminator(
                cond, cfg.d_width, cfg.d_layers, cfg.d_scales, 512, image_channels=image
            )
            return pix2pixhd_init(net).to(device)

        self.d1 = {"p": d(n * c, 3), "t": d(0, 3 * M_FRAMES)}
        self.d2 = {"p": d(n * 3, 3), "t": d(0, 3 * M_FRAMES)} if cfg.stage2 else {}
        if unpaired:
            self.d1["w"] = d(n * c, 3)
            if cfg.stage2:
                self.d2["w"] = d(n * c, 3)
        self.vgg = setup.vgg.to(device) if setup.vgg is not None else None
        betas = (cfg.beta1, cfg.beta2)
        s1 = LinearDecay(cfg.coarse_steps + cfg.steps, cfg.lr_decay_start)
        s2 = LinearDecay(cfg.stage2_steps, cfg.lr_decay_start)
        self.opt = {
            "g1": torch.optim.Adam(self.nets.g1.parameters(), lr=cfg.lr, betas=betas),
            "d1": torch.optim.Adam(_params(self.d1), lr=cfg.lr, betas=betas),
        }
        lambdas = {"g1": s1, "d1": s1}
        if cfg.stage2:
            self.opt["g2"] = torch.optim.Adam(self.nets.g2.parameters(), lr=cfg.lr, betas=betas)
            self.opt["d2"] = torch.optim.Adam(_params(self.d2), lr=cfg.lr, betas=betas)
            lambdas.update(g2=s2, d2=s2)
        self._lambdas = lambdas
        self.sched = {
            k: torch.optim.lr_scheduler.LambdaLR(o, lambdas[k]) for k, o in self.opt.items()
        }
        self.amp = device.type == "cuda" and cfg.amp
        self.bank: PoseBank | None = None
        if unpaired and not setup.resume:
            self.bank = read_bank(setup.workspace, unpaired_names(cfg), self.frame)
            self.notes.append(
                f"Unpaired pose bank: {len(self.bank.keypoints)} frames of "
                f"{len(self.bank.spans)} video(s) ({', '.join(self.bank.names)})."
            )
        self._stage = 1

    # --- phases -------------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        cfg = self.cfg
        return cfg.coarse_steps + cfg.steps + (cfg.stage2_steps if cfg.stage2 else 0)

    def phase(self, step: int) -> str:
        if step < self.cfg.coarse_steps:
            return "coarse"
        if not self.cfg.stage2 or step < self.cfg.coarse_steps + self.cfg.steps:
            return "stage1"
        return "stage2"

    def lr(self) -> float:
        return float(self.opt["g2" if self._stage == 2 else "g1"].param_groups[0]["lr"])

    def init_from_data(self, data: Any) -> None:
        """The background plates (for showing and rendering over the video's background),
        and the unpaired bank fitted to the subject's body size and place."""
        if data.backgrounds is not None:
            with torch.no_grad():
                self.nets.plates.copy_(data.backgrounds.to(self.device).float() * (2 / 255) - 1)
        if self.bank is not None:
            ids = data.train_frame_ids()
            self.bank = fit_to(self.bank, data.keypoints[ids][:, :BODY_JOINTS, :3].cpu())

    # --- inputs -------------------------------------------------------------------------
    def _maps(self, kp: torch.Tensor, factor: float, aug: bool) -> torch.Tensor:
        """Limb maps (B, T, 24, h, w) of keypoints (B, T, K, 3) at ``factor`` of the frame,
        augmented when ``aug``."""
        b, t = kp.shape[:2]
        h, w = self.frame
        size = (int(round(h * factor)), int(round(w * factor)))
        if aug:
            kp = augment(kp, self.frame, self.cfg)
        maps = draw(scaled(kp.flatten(0, 1), factor), size, self.cfg)
        if aug and self.cfg.aug_drop_p > 0:
            maps = drop_limbs(maps, self.cfg.aug_drop_p)
        return maps.view(b, t, *maps.shape[1:])

    def _targets(self, b: Any, centres: list[int], coarse: bool):
        """(masked frames over the solid colour, masks) of frames ``centres`` of each item,
        (M * B, C, h, w) in blocks of frames."""
        n = len(b.real) // CLIP
        real = b.real.view(CLIP, n, *b.real.shape[1:])
        mask = b.arrays["mask"].view(CLIP, n, 1, *b.real.shape[2:])
        real = torch.cat([real[p] for p in centres])
        mask = torch.cat([mask[p] for p in centres]).float() / 255.0
        fg = real * mask + self.nets.solid * (1.0 - mask)
        return (half(fg), half(mask)) if coarse else (fg, mask)

    # --- one step -----------------------------------------------------------------------
    def train_step(self, b: Any, step: int) -> dict[str, float]:
        phase = self.phase(step)
        self._stage = 2 if phase == "stage2" else 1
        cfg = self.cfg
        n = len(b.real) // CLIP
        kp = b.keypoints.view(CLIP, n, *b.keypoints.shape[1:]).transpose(0, 1)
        kp = kp[:, :, :BODY_JOINTS, :3].contiguous()
        mid = CLIP // 2
        out_at = [mid - 1, mid, mid + 1]
        offs = g1_offsets(cfg)
        coarse = phase == "coarse"
        factor = 0.5 if coarse else 1.0
        wild = self.bank.sample(n, CLIP).to(self.device) if self.bank is not None else None
        terms: dict[str, torch.Tensor] = {}
        weights: dict[str, float] = {}
        with autocast(self.amp):
            maps = self._maps(kp, factor, cfg.augment)
            plain = self._maps(kp, factor, False) if cfg.augment else maps
            x_real = windows(plain, out_at, offs)
            tgt, mask = self._targets(b, out_at, coarse)
            wmaps = self._maps(wild, factor, False) if wild is not None else None
            if self._stage == 1:
                raw = self.nets.stage1(windows(maps, out_at, offs))
                cond = x_real
                raw_w = self.nets.stage1(windows(wmaps, out_at, offs)) if wild is not None else None
                ds, opt_g, opt_d = self.d1, "g1", "d1"
            else:
                raw, cond = self._stage2(maps, out_at)
                raw_w = self._stage2(wmaps, out_at)[0] if wild is not None else None
                ds, opt_g, opt_d = self.d2, "g2", "d2"
            pic = self.nets.picture(raw)
            pic_w = self.nets.picture(raw_w) if raw_w is not None else None
            x_wild = windows(wmaps, out_at, offs) if wild is not None else None
            self._g_losses(ds, cond, x_real, tgt, pic, x_wild, pic_w, terms, weights)
            terms["mask"], weights["mask"] = NL.mask_loss(alpha_of(raw), mask), cfg.w_mask
        values = apply_losses(self.opt[opt_g], terms, weights, step)
        values["d"] = self._update_d(
            ds, self.opt[opt_d], cond, x_real, tgt, pic, x_wild, pic_w, step
        )
        self.sched[opt_g].step()
        self.sched[opt_d].step()
        return values

    def _stage2(self, maps: torch.Tensor, out_at: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """G2's raw outputs at ``out_at`` and its input stacks (G1 pictures, G1 frozen)."""
        k, offs = self.cfg.window_k, g1_offsets(self.cfg)
        at = list(range(out_at[0] - k, out_at[-1] + k + 1))
        b = maps.shape[0]
        with torch.no_grad():
            raw1 = self.nets.stage1(windows(maps, at, offs))
            pics = self.nets.picture(raw1).view(len(at), b, 3, *maps.shape[-2:])
        stacks, centres = [], []
        for p in out_at:
            i = at.index(p)
            window = pics[i - k : i + k + 1]  # (2K+1, B, 3, H, W)
            stacks.append(window.transpose(0, 1).reshape(b, -1, *maps.shape[-2:]))
            centres.append(raw1[i * b : (i + 1) * b])
        stack = torch.cat(stacks)
        return self.nets.stage2(stack, torch.cat(centres)), stack

    # --- losses -------------------------------------------------------------------------
    def _g_losses(self, ds, cond, x_real, tgt, pic, x_wild, pic_w, terms, weights) -> None:
        cfg = self.cfg
        feats = _run(ds["p"], torch.cat([cond, cond]), torch.cat([tgt, pic]), grad=False)
        real_f, fake_f = NL.split_real_fake(feats, len(tgt))
        terms["gan_p"] = NL.gan_g_loss(fake_f, cfg.gan_mode)
        fm = NL.feature_matching(real_f, fake_f)
        triples = [_triples(tgt), _triples(pic)]
        if pic_w is not None:
            triples.append(_triples(pic_w))
        t_all = torch.cat(triples)
        feats = _run(ds["t"], t_all[:, :0], t_all, grad=False)
        nb = len(triples[0])
        real_t = [[f[:nb] for f in s] for s in feats]
        fake_t = [[f[nb : 2 * nb] for f in s] for s in feats]
        terms["gan_t"] = NL.gan_g_loss(fake_t, cfg.gan_mode)
        terms["fm"] = fm + NL.feature_matching(real_t, fake_t)
        weights.update(gan_p=cfg.w_gan, gan_t=cfg.w_gan, fm=cfg.w_fm)
        if pic_w is not None:
            wild_t = [[f[2 * nb :] for f in s] for s in feats]
            feats = _run(ds["w"], x_wild, pic_w, grad=False)
            terms["gan_w"] = NL.gan_g_loss(feats, cfg.gan_mode) + NL.gan_g_loss(
                wild_t, cfg.gan_mode
            )
            weights["gan_w"] = cfg.w_gan * cfg.w_unpaired
        if self.vgg is not None:
            terms["vgg"], weights["vgg"] = self.vgg(pic, tgt), cfg.w_vgg
        else:
            terms["l1"], weights["l1"] = F.l1_loss(pic, tgt), cfg.w_l1

    def _update_d(self, ds, opt, cond, x_real, tgt, pic, x_wild, pic_w, step: int) -> float:
        mode = self.cfg.gan_mode
        pic, n = pic.detach(), len(tgt)
        with autocast(self.amp):
            real_f, fake_f = NL.split_real_fake(
                _run(ds["p"], torch.cat([cond, cond]), torch.cat([tgt, pic])), n
            )
            loss = NL.gan_d_loss(real_f, fake_f, mode)
            fakes = [_triples(pic)] + ([_triples(pic_w.detach())] if pic_w is not None else [])
            t_all = torch.cat([_triples(tgt), *fakes])
            real_f, fake_f = NL.split_real_fake(_run(ds["t"], t_all[:, :0], t_all), n // M_FRAMES)
            loss = loss + NL.gan_d_loss(real_f, fake_f, mode)
            if pic_w is not None:
                feats = _run(ds["w"], torch.cat([x_real, x_wild]), torch.cat([tgt, pic_w.detach()]))
                real_f, fake_f = NL.split_real_fake(feats, n)
                loss = loss + NL.gan_d_loss(real_f, fake_f, mode)
        check_finite(step, loss, {"d": loss})
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    # --- evaluation ---------------------------------------------------------------------
    @torch.no_grad()
    def eval_images(self, b: Any) -> dict[str, torch.Tensor]:
        """output (over the video's background plate) | the person over the solid colour
        | G1's output over the plate (with stage 2)."""
        self.nets.eval()
        with autocast(self.amp):
            raw, raw1 = self.nets.forward_window(b.pose)
        self.nets.train()
        plate = self.nets.plates[b.video.to(self.nets.plates.device)]

        def over(r: torch.Tensor, bg: torch.Tensor) -> torch.Tensor:
            a = alpha_of(r)
            return r[:, :3].float().clamp(-1, 1) * a + bg * (1.0 - a)

        images = {"output": over(raw, plate), "person": self.nets.picture(raw)}
        if raw1 is not None:
            images["stage1"] = over(raw1, plate)
        return images

    # --- state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"nets": self.nets.state_dict()}
        state["d1"] = {k: v.state_dict() for k, v in self.d1.items()}
        state["d2"] = {k: v.state_dict() for k, v in self.d2.items()}
        state["opt"] = {k: v.state_dict() for k, v in self.opt.items()}
        state["sched"] = {k: v.state_dict() for k, v in self.sched.items()}
        state["bank"] = self.bank.state_dict() if self.bank is not None else None
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.nets.load_state_dict(state["nets"])
        for group, saved in ((self.d1, state["d1"]), (self.d2, state["d2"])):
            for k, v in group.items():
                v.load_state_dict(saved[k])
        for k, v in self.opt.items():
            v.load_state_dict(state["opt"][k])
        for k, v in self.sched.items():
            v.load_state_dict(state["sched"][k])
            v.lr_lambdas[0] = self._lambdas[k]
        if state.get("bank") is not None:
            self.bank = PoseBank.from_state(state["bank"])


def _params(ds: dict[str, torch.nn.Module]) -> list[torch.nn.Parameter]:
    return [p for d in ds.values() for p in d.parameters()]


def _run(d, cond: torch.Tensor, image: torch.Tensor, grad: bool = True) -> NL.Features:
    """Discriminator ``d`` on (cond, image); with ``grad`` False its weights get none."""
    requires_grad(d, grad)
    try:
        return d(cond, image)
    finally:
        requires_grad(d, True)


def build_trainer(setup: TrainSetup) -> RenTrainer:
    return RenTrainer(setup)
