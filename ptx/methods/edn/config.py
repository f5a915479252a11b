"""Everybody Dance Now's settings and the ``tiny``/``small``/``paper`` presets.

The values marked EDN are its official code's defaults as ``papers/methods.md`` (e) lists
them (pix2pixHD's generator and discriminator, LSGAN, feature matching and VGG weights,
Adam 2e-4 / 0.5, the face GAN's generator); the ``paper`` preset is EDN's
(``--netG local --ngf 32`` at 1024x512 after a global stage at 512x256, here as a square of
``size`` 512 with the global stage at 256). The smaller presets shrink widths and depths to
CPU budgets, as D2G-Net's presets do, and use D2G-Net's tiny learning rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ptx.config import setting
from ptx.errors import InputError
from ptx.methods.base import MethodConfig


@dataclass
class EDNConfig(MethodConfig):
    # --- data ---------------------------------------------------------------------------
    batch: int = setting(2, fixed=True)
    """Training items per step; each item is a pair of consecutive frames (t-1, t)."""
    lr: float = 5e-4
    """Adam learning rate of every network (EDN: 2e-4, the paper preset's)."""
    # --- generator ----------------------------------------------------------------------
    width: int = setting(16, fixed=True)
    """Generator: channels at full resolution (EDN: ngf 64 global, 32 with the local
    enhancer, whose global part then has twice as many)."""
    n_down: int = setting(3, fixed=True)
    """Global generator: stride-2 downsamplings (EDN: 4)."""
    n_res: int = setting(3, fixed=True)
    """Global generator: residual blocks (EDN: 9)."""
    local_enhancer: bool = setting(False, fixed=True)
    """pix2pixHD's local enhancer around the global generator (EDN at 1024x512): the global
    part is first trained alone at half resolution for ``global_steps``."""
    n_res_local: int = setting(3, fixed=True)
    """Local enhancer: residual blocks (EDN: 3)."""
    global_steps: int = 0
    """With the local enhancer: steps of the global generator alone at half resolution,
    before ``steps`` of the whole."""
    # --- discriminator ------------------------------------------------------------------
    d_width: int = setting(16, fixed=True)
    """Discriminator: channels of its first layer (EDN: 64)."""
    d_layers: int = setting(3, fixed=True)
    """Discriminator: stride-2 layers per scale (EDN: 3)."""
    d_scales: int = setting(2, fixed=True)
    """Discriminator: scales (EDN: 2 global, 3 local)."""
    # --- face GAN -----------------------------------------------------------------------
    face_gan: bool = setting(True, fixed=True)
    """Refine a face crop with a residual GAN in a last phase (EDN's face GAN)."""
    face_steps: int = 200
    """Steps of the face phase, after the generator's."""
    face_box: float = setting(0.25, fixed=True)
    """Face box side as a fraction of the frame height (EDN: 128 px at 512 px)."""
    face_width: int = setting(16, fixed=True)
    """Face generator: channels of its first layer (EDN: 64)."""
    face_down: int = setting(2, fixed=True)
    """Face generator: stride-2 downsamplings (EDN: 3)."""
    face_res: int = setting(2, fixed=True)
    """Face generator: residual blocks (EDN: 5)."""
    face_d_layers: int = setting(2, fixed=True)
    """Face discriminator (one scale): stride-2 layers (EDN: 3)."""
    # --- losses -------------------------------------------------------------------------
    gan_mode: str = "lsgan"
    """Adversarial loss: lsgan (EDN) or hinge."""
    w_gan: float = 1.0
    """Weight of the adversarial loss per discriminator scale (pix2pixHD sums the scales)."""
    w_fm: float = 10.0
    """lambda_feat of discriminator feature matching, with pix2pixHD's per-layer
    4 / (d_layers + 1) and per-scale 1 / d_scales weights."""
    w_vgg: float = 10.0
    """Weight of the VGG-19 perceptual loss (when the weights file is present)."""
    w_l1: float = 50.0
    """Weight of the pixel L1 loss used instead of VGG-19 when its weights are absent
    (D2G-Net's tiny fallback weight; 10, EDN's optional L1 lambda, in the paper preset)."""
    w_face_rec: float = 0.5
    """Face phase: the face crops' VGG-19 (or L1) loss, as a fraction of w_vgg (or w_l1)."""


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {
        "size": 256, "width": 32, "n_down": 4, "n_res": 6, "d_width": 32, "face_width": 32,
        "face_down": 3, "face_res": 3, "face_d_layers": 3, "lr": 2e-4, "steps": 20000,
        "face_steps": 2000, "eval_every": 1000, "sample_every": 1000,
        "checkpoint_every": 1000,
    },
    "paper": {
        "size": 512, "local_enhancer": True, "width": 32, "n_down": 4, "n_res": 9,
        "n_res_local": 3, "global_steps": 30000, "d_width": 64, "d_scales": 3,
        "face_width": 64, "face_down": 3, "face_res": 5, "face_d_layers": 3, "w_l1": 10.0,
        "lr": 2e-4, "steps": 30000, "face_steps": 10000, "log_every": 50,
        "eval_every": 2500, "sample_every": 2500, "checkpoint_every": 2500,
    },
}  # fmt: skip
"""Each preset's changes from the defaults (``tiny`` is the defaults)."""


def face_crop_side(cfg: EDNConfig) -> int:
    """The face box side in pixels at the training size."""
    from ptx.nn.face import face_side

    return face_side(cfg.size, cfg.face_box, 2**cfg.face_down)


def divisor(cfg: EDNConfig) -> int:
    """What both sides of an EDN frame must be multiples of: 2 ** the generator's stride-2
    downsamplings (one more with the local enhancer, which sees the frame at half size)."""
    return 2 ** (cfg.n_down + (1 if cfg.local_enhancer else 0))


def check_config(cfg: EDNConfig) -> None:
    """Raise InputError for EDN settings that cannot work together."""
    step = divisor(cfg)
    if cfg.size % step or cfg.size // step < 2:
        raise InputError(
            f"size={cfg.size} must be divisible by {step} (2 ** the generator's "
            "downsamplings) with at least 2 pixels left at the bottleneck.",
            f"Use a multiple of {step}, e.g. {max(2 * step, cfg.size // step * step)}.",
        )
    if cfg.gan_mode not in ("lsgan", "hinge"):
        raise InputError(f"gan_mode={cfg.gan_mode!r} is unknown.", "Use lsgan or hinge.")
    if cfg.face_steps < 0 or cfg.global_steps < 0:
        raise InputError("face_steps and global_steps must be 0 or more.")
    if cfg.global_steps and not cfg.local_enhancer:
        raise InputError("global_steps needs local_enhancer=true.")
    if cfg.face_gan:
        side = face_crop_side(cfg)
        if side > cfg.size or side // 2**cfg.face_down < 2 or not 0 < cfg.face_box <= 1:
            raise InputError(
                f"A {side}-px face box (face_box={cfg.face_box} of {cfg.size} px) cannot go "
                f"through {cfg.face_down} downsamplings with 2 pixels left.",
                "Raise face_box or lower face_down, or set face_gan=false.",
            )
