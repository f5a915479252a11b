"""Textured Neural Avatars' settings and the ``tiny``/``small``/``paper`` presets.

The network sizes, texture resolution, losses and phases are those of D2G-Net's static
path in ptx (``ptx.methods.d2g.config``), so that a comparison isolates what the two
methods differ in: TNA's input (one bone per channel, from the keypoints alone, no IUV and
no 3D label), its RGB-only texture and the absence of a translator. Where TNA's paper is
silent here (or not available to us: see ``ptx/methods/tna/__init__.py``) the value is
D2G's, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ptx.config import setting
from ptx.errors import InputError
from ptx.methods.base import MethodConfig


@dataclass
class TNAConfig(MethodConfig):
    # --- data ---------------------------------------------------------------------------
    batch: int = setting(4, fixed=True)
    """Frames per step (4: as many as D2G-Net's and EDN's 2 pairs)."""
    lr: float = 5e-4
    """Adam learning rate (D2G-Net's tiny value; the paper preset uses 2e-4)."""
    bone_radius: float = setting(1.0 / 32.0, fixed=True)
    """Half-width of a rasterised bone, as a fraction of the frame height (a choice: TNA's
    paper gives its bone rendering, not its width; 2 px at 64 px, 16 px at 512 px)."""
    # --- model (D2G-Net's static path) --------------------------------------------------
    uv_width: int = setting(16, fixed=True)
    """UV generator: channels of its first layer (doubled per downsampling)."""
    uv_down: int = setting(3, fixed=True)
    """UV generator: stride-2 downsamplings."""
    uv_res: int = setting(2, fixed=True)
    """UV generator: residual blocks at the bottleneck."""
    width_cap: int = setting(512, fixed=True)
    """Largest channel count of any layer."""
    tex_size: int = setting(32, fixed=True)
    """Texels per side of each of the 24 part charts (RGB)."""
    tex_topk: int = 2
    """Parts sampled per pixel (the most likely ones); 24 samples every part."""
    # --- losses (D2G-Net's static-path losses and weights) ------------------------------
    w_l2: float = 500.0
    """Weight of the pixel L2 loss on the composite."""
    w_vgg: float = 10.0
    """Weight of the VGG-19 perceptual loss (when the weights file is present)."""
    w_l1: float = 50.0
    """Weight of the pixel L1 loss used instead of VGG-19 when its weights are absent."""
    w_uv: float = 1000.0
    """Weight of the L1 loss on UV against the IUV pseudo ground truth."""
    w_part: float = 10.0
    """Weight of the part cross-entropy against the IUV pseudo ground truth."""
    w_mask: float = 0.1
    """Weight of the BCE between the person probability and the mask."""
    # --- phases -------------------------------------------------------------------------
    uv_warmup_steps: int = 100
    """UV-generator-only steps first (on the IUV pseudo ground truth), as D2G-Net's."""


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {
        "size": 256, "uv_width": 32, "uv_down": 4, "uv_res": 4, "tex_size": 128, "lr": 2e-4,
        "steps": 20000, "uv_warmup_steps": 1000, "eval_every": 1000, "sample_every": 1000,
        "checkpoint_every": 1000,
    },
    "paper": {
        "size": 512, "uv_width": 64, "uv_down": 4, "uv_res": 9, "tex_size": 200, "w_l1": 10.0,
        "lr": 2e-4, "steps": 60000, "uv_warmup_steps": 5000, "log_every": 50,
        "eval_every": 2500, "sample_every": 2500, "checkpoint_every": 2500,
    },
}  # fmt: skip
"""Each preset's changes from the defaults (``tiny`` is the defaults); the same sizes as
D2G-Net's presets."""


def divisor(cfg: TNAConfig) -> int:
    """What both sides of a TNA frame must be multiples of: 2 ** the UV generator's
    stride-2 downsamplings."""
    return 2**cfg.uv_down


def check_config(cfg: TNAConfig) -> None:
    """Raise InputError for TNA settings that cannot work together."""
    step = divisor(cfg)
    if cfg.size % step:
        raise InputError(
            f"size={cfg.size} is not divisible by {step} (2 ** uv_down).",
            f"Use a multiple of {step}, e.g. {max(step, cfg.size // step * step)}.",
        )
    if cfg.bone_radius <= 0 or cfg.tex_size < 2 or cfg.uv_warmup_steps < 0:
        raise InputError("bone_radius > 0, tex_size >= 2 and uv_warmup_steps >= 0.")
