"""D2G-Net's settings (model, losses, phases) and the ``tiny``/``small``/``paper`` presets.

One flat dataclass (the common fields of :class:`~ptx.methods.base.MethodConfig`, then
D2G-Net's) so that every field can be set from the CLI as ``--set field=value``; the
resolved config is saved as YAML beside the run's checkpoints and inside each checkpoint,
and is all transfer needs to rebuild the model. ``setting(..., fixed=True)`` marks what a
resumed run cannot change; the ``uv`` group is what a pretrained UV generator must share
with the run that loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ptx.config import group_fields, setting
from ptx.errors import InputError
from ptx.methods.base import MethodConfig

UV = ("uv",)


@dataclass
class D2GConfig(MethodConfig):
    # --- data (common fields redeclared for their D2G defaults and groups) ----------------
    size: int = setting(64, fixed=True, groups=UV)
    """Long side of the training frame in pixels (the short side follows the subject's
    canonical aspect, a multiple of 2 ** max(uv_down, tr_down)); the prepared arrays are
    resized to that frame."""
    batch: int = setting(2, fixed=True)
    """Training items per step; each item is a pair of frames (t-1, t)."""
    lr: float = 5e-4
    """Adam learning rate of generator and discriminator."""
    use_label3d: bool = setting(True, fixed=True, groups=UV)
    """Pose label = skeleton + 3D label (6 channels per frame); False: skeleton only."""
    pose_frames: int = setting(3, fixed=True, groups=UV)
    """Frames stacked into the pose label (t, t-1, t-2 for 3)."""
    iuv_input: bool = setting(True, fixed=True, groups=UV)
    """Feed the body-model IUV to the UV generator, which then predicts a correction of it
    (the static path is good from step one). False: the paper's pose-label-only input."""
    # --- model --------------------------------------------------------------------------
    uv_width: int = setting(16, fixed=True, groups=UV)
    """UV generator: channels of its first layer (doubled per downsampling)."""
    uv_down: int = setting(3, fixed=True, groups=UV)
    """UV generator: stride-2 downsamplings."""
    uv_res: int = setting(2, fixed=True, groups=UV)
    """UV generator: residual blocks at the bottleneck."""
    prior_logit: float = setting(8.0, groups=UV)
    """With iuv_input: logit bonus of the input IUV's part."""
    prior_offset: float = setting(0.5, groups=UV)
    """With iuv_input: largest learned UV offset from the input IUV (UV range is [-1, 1])."""
    tex_size: int = setting(32, fixed=True)
    """Texels per side of each of the 24 part charts."""
    tex_channels: int = setting(18, fixed=True)
    """Channels of the hybrid texture (3 RGB + learned detail channels)."""
    tex_topk: int = 2
    """Parts sampled per pixel (the most likely ones); 24 samples every part."""
    tr_width: int = setting(16, fixed=True)
    """Translator: channels of its first layer."""
    tr_down: int = setting(3, fixed=True)
    """Translator: stride-2 downsamplings."""
    tr_res: int = setting(3, fixed=True)
    """Translator: residual blocks at the bottleneck."""
    pose_condition: bool = setting(True, fixed=True)
    """Concatenate the pose label to the translator's bottleneck (the paper's ablation
    switches it off)."""
    tr_residual: bool = setting(True, fixed=True)
    """Translator predicts a correction to the static RGB (starts as the static image);
    False: a tanh output as in the paper."""
    width_cap: int = setting(512, fixed=True, groups=UV)
    """Largest channel count of any layer."""
    d_width: int = setting(16, fixed=True)
    """Discriminator: channels of its first layer."""
    d_layers: int = setting(3, fixed=True)
    """Discriminator: stride-2 layers per scale."""
    d_scales: int = setting(2, fixed=True)
    """Discriminator: number of scales."""
    # --- losses -------------------------------------------------------------------------
    gan_mode: str = "lsgan"
    """Adversarial loss: lsgan or hinge."""
    w_gan: float = 1.0
    """Weight of the adversarial loss."""
    w_fm: float = 10.0
    """Weight of discriminator feature matching."""
    w_vgg: float = 10.0
    """Weight of the VGG-19 perceptual loss (when the weights file is present)."""
    w_l1: float = 50.0
    """Weight of the pixel L1 loss used instead of VGG-19 when its weights are absent."""
    w_l2: float = 500.0
    """Weight of the pixel L2 loss on the output."""
    w_static: float = 500.0
    """Weight of the pixel L2 loss on the static composite (the regular loss)."""
    w_temporal: float = 500.0
    """Weight of the flow-warped temporal L1 loss."""
    w_uv: float = 1000.0
    """Weight of the L1 loss on UV against the IUV pseudo ground truth."""
    w_part: float = 10.0
    """Weight of the part cross-entropy against the IUV pseudo ground truth."""
    w_mask: float = 0.1
    """Weight of the BCE between the person probability and the mask."""
    # --- phases -------------------------------------------------------------------------
    uv_warmup_steps: int = 100
    """UV-generator-only steps first, when no pretrained UV generator is loaded."""
    uv_pretrain_steps: int = 2000
    """Steps of `--pretrain-uv` (when --steps is not given)."""
    gan_start: int = 600
    """Step (after the warm-up) at which the GAN and temporal losses start."""


PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {},
    "small": {
        "size": 256,
        "uv_width": 32,
        "uv_down": 4,
        "uv_res": 4,
        "tex_size": 128,
        "tr_width": 32,
        "tr_down": 4,
        "tr_res": 6,
        "d_width": 32,
        "lr": 2e-4,
        "steps": 20000,
        "uv_warmup_steps": 1000,
        "gan_start": 2000,
        "eval_every": 1000,
        "sample_every": 1000,
        "checkpoint_every": 1000,
    },
    "paper": {
        "size": 512,
        "iuv_input": False,
        "uv_width": 64,
        "uv_down": 4,
        "uv_res": 9,
        "tex_size": 200,
        "tr_width": 64,
        "tr_down": 4,
        "tr_res": 9,
        "tr_residual": False,
        "d_width": 64,
        "w_l1": 10.0,
        "lr": 2e-4,
        "steps": 60000,
        "uv_warmup_steps": 5000,
        "gan_start": 5000,
        "log_every": 50,
        "eval_every": 2500,
        "sample_every": 2500,
        "checkpoint_every": 2500,
    },
}
"""Each preset's changes from the defaults (``tiny`` is the defaults)."""

UV_FIELDS = group_fields(D2GConfig, "uv")
"""Settings a pretrained UV generator must share with the run that loads it."""


def divisor(cfg: D2GConfig) -> int:
    """What both sides of a D2G frame must be multiples of: 2 ** the number of stride-2
    downsamplings of its deeper network."""
    return 2 ** max(cfg.uv_down, cfg.tr_down)


def check_config(cfg: D2GConfig) -> None:
    """Raise InputError for D2G settings that cannot work together."""
    step = divisor(cfg)
    if cfg.size % step:
        raise InputError(
            f"size={cfg.size} is not divisible by {step} (2 ** the number of downsamplings).",
            f"Use a multiple of {step}, e.g. {max(step, cfg.size // step * step)}.",
        )
    if cfg.gan_mode not in ("lsgan", "hinge"):
        raise InputError(f"gan_mode={cfg.gan_mode!r} is unknown.", "Use lsgan or hinge.")
    if cfg.tex_channels < 3 or cfg.pose_frames < 1 or cfg.tex_size < 2:
        raise InputError("tex_channels >= 3, tex_size >= 2 and pose_frames >= 1.")
    if cfg.uv_warmup_steps < 0 or cfg.gan_start < 0:
        raise InputError("uv_warmup_steps and gan_start must be 0 or more.")
