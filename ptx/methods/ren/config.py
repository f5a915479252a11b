"""Ren et al.'s settings and the ``tiny``/``small``/``paper`` presets.

The paper gives: K = 2 (a window of 2K + 1 = 5 limb maps centred on t), M = 3 frames for
the temporal discriminator, pix2pixHD's generator and multi-scale discriminator, its
progressive (coarse-to-fine) schedule from 128x256 to 256x512, lambda_vgg = 10,
lambda_fm = 10, Adam at 2e-4 decayed "gradually" (``papers/methods.md`` (a)). It gives no
widths, no iteration counts, no batch size, no pose-augmentation magnitudes and no ratio
of unpaired to paired batches: those below are ptx's choices, said so where they are
declared. The ``paper`` preset uses pix2pixHD's widths (ngf 64, 9 residual blocks, ndf 64,
3 layers) at 512 px with the coarse phase at 256 px; ``tiny`` shrinks them for the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ptx.config import setting
from ptx.errors import InputError
from ptx.methods.base import MethodConfig

M_FRAMES = 3
"""Consecutive frames the temporal discriminator sees (the paper's M)."""


@dataclass
class RenConfig(MethodConfig):
    # --- data ---------------------------------------------------------------------------
    batch: int = setting(2, fixed=True)
    """Training items per step; each item gives M = 3 consecutive output frames (and the
    pose frames their windows need)."""
    lr: float = 5e-4
    """Adam learning rate of every network (the paper: 2e-4, the ``paper`` preset's)."""
    window_k: int = setting(2, fixed=True)
    """K: the generator sees the limb maps of frames t-K..t+K (the paper: 2)."""
    causal: bool = setting(False, fixed=True)
    """The window is t-2K..t instead of t-K..t+K (the paper's PL-Stage1 baseline, the
    stack of earlier methods; no lookahead)."""
    bone_radius: float = setting(1.0 / 32.0, fixed=True)
    """Half-width of a drawn limb, as a fraction of the frame's long side (ptx's choice,
    as for tna: the paper draws "a line segment")."""
    background_rgb: str = setting("0,255,0", fixed=True)
    """R,G,B (0..255): the solid colour behind the person in the training targets (the paper's green
    screen); the output's alpha is what compositing uses."""
    # --- stages and schedule ------------------------------------------------------------
    stage2: bool = setting(True, fixed=True)
    """Train G2 (texture refinement over a window of G1's outputs) after G1."""
    coarse_steps: int = 100
    """Steps of G1 at half resolution first (the paper's progressive schedule: a fully
    convolutional generator trained at half size, then at full size)."""
    steps: int = 600
    """Steps of G1 at full resolution."""
    stage2_steps: int = 300
    """Steps of G2 (G1 frozen) after G1's, when ``stage2``."""
    g2_residual: bool = setting(True, fixed=True)
    """G2 outputs a correction added to G1's centre frame (ptx's choice: the paper does not
    say; this starts G2 at G1's output instead of at noise)."""
    # --- pose augmentation (keypoint space, before drawing; magnitudes are ptx's) ---------
    augment: bool = True
    """Augment the training poses (the paper's pose augmentation; it gives no magnitudes)."""
    aug_jitter: float = 0.01
    """Std of per-joint, per-frame position noise, as a fraction of the frame's long side."""
    aug_limb_p: float = 0.3
    """Probability that a limb (with every joint hanging below it) is lengthened or
    shortened, per item."""
    aug_limb: float = 0.15
    """Limb length factors are uniform in [1 - aug_limb, 1 + aug_limb]."""
    aug_drop_p: float = 0.05
    """Probability that a limb channel is dropped (left empty), per frame."""
    aug_scale: float = 0.05
    """Global scale about the body centre, uniform in [1 - aug_scale, 1 + aug_scale] per item."""
    aug_shift: float = 0.03
    """Global shift, uniform in +-aug_shift of the frame's sides, per item."""
    # --- unpaired learning ----------------------------------------------------------------
    unpaired: str = setting("", fixed=True)
    """Comma-separated subjects or prepared videos (ids or file paths) whose poses form the
    unpaired bank ('' = no unpaired learning)."""
    w_unpaired: float = 1.0
    """Weight of the unpaired branch's adversarial terms (one unpaired batch of ``batch``
    items per paired batch: the paper gives no ratio)."""
    # --- networks -----------------------------------------------------------------------
    width: int = setting(16, fixed=True)
    """Generators: channels at full resolution (pix2pixHD: 64)."""
    n_down: int = setting(3, fixed=True)
    """Generators: stride-2 downsamplings (pix2pixHD: 4)."""
    n_res: int = setting(3, fixed=True)
    """Generators: residual blocks (pix2pixHD: 9)."""
    d_width: int = setting(16, fixed=True)
    """Discriminators: channels of their first layer (pix2pixHD: 64)."""
    d_layers: int = setting(3, fixed=True)
    """Discriminators: stride-2 layers per scale (pix2pixHD: 3)."""
    d_scales: int = setting(2, fixed=True)
    """Discriminators: scales (pix2pixHD: 2 at its global stage)."""
    # --- losses -------------------------------------------------------------------------
    gan_mode: str = "lsgan"
    """Adversarial loss: lsgan (pix2pixHD's; the paper writes the log form) or hinge."""
    w_gan: float = 1.0
    """Weight of each discriminator's adversarial term (the paper: 1)."""
    w_fm: float = 10.0
    """lambda_fm of feature matching on D_p and D_t (the paper: 10)."""
    w_vgg: float = 10.0
    """lambda_vgg of the VGG-19 perceptual loss (the paper: 10)."""
    w_l1: float = 50.0
    """Pixel L1 used instead of VGG-19 when its weights are absent (as edn's tiny preset)."""
    w_mask: float = 1.0
    """BCE of the output alpha against the person mask (ptx's: the paper composites a
    green-screen output and reports no alpha)."""


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {
        "size": 256, "width": 32, "n_down": 4, "n_res": 6, "d_width": 32, "lr": 2e-4,
        "coarse_steps": 5000, "steps": 15000, "stage2_steps": 10000, "eval_every": 1000,
        "sample_every": 1000, "checkpoint_every": 1000,
    },
    "paper": {
        "size": 512, "width": 64, "n_down": 4, "n_res": 9, "d_width": 64, "d_scales": 2,
        "w_l1": 10.0, "lr": 2e-4, "coarse_steps": 30000, "steps": 30000,
        "stage2_steps": 30000, "log_every": 50, "eval_every": 2500, "sample_every": 2500,
        "checkpoint_every": 2500,
    },
}  # fmt: skip
"""Each preset's changes from the defaults (``tiny`` is the defaults)."""


def reach(cfg: RenConfig) -> int:
    """Frames the final output at t reaches on either side: K, or 2K with stage 2 (G2 at t
    sees G1 at t-K..t+K, each of which sees K more)."""
    return cfg.window_k * (2 if cfg.stage2 else 1)


def offsets(cfg: RenConfig) -> tuple[int, ...]:
    """The window of limb maps the renderer stacks for output frame t."""
    r = reach(cfg)
    return tuple(range(-2 * r, 1)) if cfg.causal else tuple(range(-r, r + 1))


def divisor(cfg: RenConfig) -> int:
    """2 ** the generators' downsamplings, once more for the half-resolution phase."""
    return 2 ** (cfg.n_down + 1)


def unpaired_names(cfg: RenConfig) -> list[str]:
    """The subjects or videos named by ``unpaired``."""
    return [s.strip() for s in cfg.unpaired.split(",") if s.strip()]


def check_config(cfg: RenConfig) -> None:
    """Raise InputError for settings that cannot work together."""
    step = divisor(cfg)
    if cfg.size % step or cfg.size // step < 2:
        raise InputError(
            f"size={cfg.size} must be divisible by {step} (2 ** the generator's "
            "downsamplings, once more for the half-resolution phase) with 2 pixels left.",
            f"Use a multiple of {step}, e.g. {max(2 * step, cfg.size // step * step)}.",
        )
    if cfg.window_k < 0 or min(cfg.coarse_steps, cfg.steps, cfg.stage2_steps) < 0:
        raise InputError("window_k, coarse_steps, steps and stage2_steps must be 0 or more.")
    if cfg.stage2 and cfg.causal:
        raise InputError("causal=true is the single-stage baseline.", "Set stage2=false.")
    if cfg.gan_mode not in ("lsgan", "hinge"):
        raise InputError(f"gan_mode={cfg.gan_mode!r} is unknown.", "Use lsgan or hinge.")
    if cfg.bone_radius <= 0:
        raise InputError("bone_radius must be positive.")
    for name in ("aug_jitter", "aug_limb_p", "aug_limb", "aug_drop_p", "aug_scale", "aug_shift"):
        value = getattr(cfg, name)
        if not 0.0 <= value < 1.0:
            raise InputError(f"{name}={value} must be in [0, 1).")
    try:
        solid_rgb(cfg)
    except ValueError:
        raise InputError(
            f"background_rgb={cfg.background_rgb!r} is not R,G,B.", "E.g. 0,255,0."
        ) from None


def solid_rgb(cfg: RenConfig) -> tuple[float, float, float]:
    """The solid background colour in [-1, 1] (ValueError when it does not parse)."""
    values = [int(v) for v in cfg.background_rgb.split(",")]
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(cfg.background_rgb)
    return tuple(v / 127.5 - 1.0 for v in values)  # type: ignore[return-value]
