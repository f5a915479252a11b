"""D2G-Net's settings (model, losses, training) and the ``tiny``/``small``/``paper`` presets.

One flat dataclass so that every field can be set from the CLI as ``--set field=value``;
the resolved config is saved as YAML beside the run's checkpoints and inside each
checkpoint, and is all transfer needs to rebuild the model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ptx.config import build_config
from ptx.errors import InputError


@dataclass
class D2GConfig:
    # --- data ---------------------------------------------------------------------------
    size: int = 64
    """Training resolution in pixels (square); the prepared arrays are resized to it."""
    holdout: float = 0.1
    """Fraction at the end of each video held out (never trained on; `ptx score` uses it)."""
    use_label3d: bool = True
    """Pose label = skeleton + 3D label (6 channels per frame); False: skeleton only."""
    pose_frames: int = 3
    """Frames stacked into the pose label (t, t-1, t-2 for 3)."""
    iuv_input: bool = True
    """Feed the body-model IUV to the UV generator, which then predicts a correction of it
    (the static path is good from step one). False: the paper's pose-label-only input."""
    data_device: str = "auto"
    """Where the dataset lives: auto (the GPU when it fits, else host memory), cpu, cuda."""
    # --- model --------------------------------------------------------------------------
    uv_width: int = 16
    """UV generator: channels of its first layer (doubled per downsampling)."""
    uv_down: int = 3
    """UV generator: stride-2 downsamplings."""
    uv_res: int = 2
    """UV generator: residual blocks at the bottleneck."""
    prior_logit: float = 8.0
    """With iuv_input: logit bonus of the input IUV's part."""
    prior_offset: float = 0.5
    """With iuv_input: largest learned UV offset from the input IUV (UV range is [-1, 1])."""
    tex_size: int = 32
    """Texels per side of each of the 24 part charts."""
    tex_channels: int = 18
    """Channels of the hybrid texture (3 RGB + learned detail channels)."""
    tex_topk: int = 2
    """Parts sampled per pixel (the most likely ones); 24 samples every part."""
    tr_width: int = 16
    """Translator: channels of its first layer."""
    tr_down: int = 3
    """Translator: stride-2 downsamplings."""
    tr_res: int = 3
    """Translator: residual blocks at the bottleneck."""
    pose_condition: bool = True
    """Concatenate the pose label to the translator's bottleneck (the paper's ablation
    switches it off)."""
    tr_residual: bool = True
    """Translator predicts a correction to the static RGB (starts as the static image);
    False: a tanh output as in the paper."""
    width_cap: int = 512
    """Largest channel count of any layer."""
    d_width: int = 16
    """Discriminator: channels of its first layer."""
    d_layers: int = 3
    """Discriminator: stride-2 layers per scale."""
    d_scales: int = 2
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
    # --- optimisation -------------------------------------------------------------------
    batch: int = 2
    """Training items per step; each item is a pair of frames (t-1, t)."""
    steps: int = 1200
    """Training steps (after the UV warm-up)."""
    lr: float = 5e-4
    """Adam learning rate of generator and discriminator."""
    beta1: float = 0.5
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    lr_decay_start: float = 0.5
    """Fraction of the steps after which the learning rate decays linearly to zero."""
    uv_warmup_steps: int = 100
    """UV-generator-only steps first, when no pretrained UV generator is loaded."""
    uv_pretrain_steps: int = 2000
    """Steps of `--pretrain-uv` (when --steps is not given)."""
    gan_start: int = 600
    """Step (after the warm-up) at which the GAN and temporal losses start."""
    seed: int = 0
    """Seed of initialisation and batch order."""
    # --- devices ------------------------------------------------------------------------
    device: str = "auto"
    """auto (CUDA when available), cpu, cuda or cuda:N."""
    amp: bool = True
    """bf16 autocast on CUDA (ignored on the CPU)."""
    channels_last: bool = True
    """channels_last memory format (on 2 CPU cores it made convolutions ~5x faster)."""
    compile: bool = False
    """torch.compile the networks (CUDA only; measured no gain on the CPU)."""
    deterministic: bool = False
    """Ask torch for deterministic kernels (CPU runs are deterministic anyway)."""
    threads: int = 0
    """CPU threads for torch (0: torch's default)."""
    # --- logging ------------------------------------------------------------------------
    log_every: int = 10
    """Steps between rows of the CSV log and TensorBoard scalars."""
    eval_every: int = 250
    """Steps between held-out PSNR evaluations (0: only at the start and the end)."""
    sample_every: int = 250
    """Steps between sample images (real | static | output | background)."""
    checkpoint_every: int = 500
    """Steps between checkpoints (one is always written at the end)."""
    keep_checkpoints: int = 3
    """Step checkpoints kept (the newest ones)."""
    eval_frames: int = 8
    """Held-out frames used by the periodic evaluation (evenly spaced)."""
    tensorboard: bool = True
    """Write TensorBoard scalars and images."""


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

IMMUTABLE_ON_RESUME = (
    "size",
    "use_label3d",
    "pose_frames",
    "iuv_input",
    "uv_width",
    "uv_down",
    "uv_res",
    "tex_size",
    "tex_channels",
    "tr_width",
    "tr_down",
    "tr_res",
    "pose_condition",
    "tr_residual",
    "width_cap",
    "d_width",
    "d_layers",
    "d_scales",
    "holdout",
    "seed",
    "batch",
)
"""Fields a resumed run cannot change (they shape the networks or the data order)."""


def resolve_config(preset: str, overrides: dict[str, Any] | None = None) -> D2GConfig:
    """The preset's config with ``overrides`` ({field: value}; strings are converted)."""
    if preset not in PRESETS:
        raise InputError(f"No preset named {preset!r}.", f"Presets: {', '.join(PRESETS)}.")
    values = {**PRESETS[preset], **(overrides or {})}
    cfg = build_config(D2GConfig, values, "train")
    check_config(cfg)
    return cfg


def config_from_dict(values: dict[str, Any]) -> D2GConfig:
    """Rebuild a saved config (unknown keys from other ptx versions are ignored)."""
    names = {f.name for f in dataclasses.fields(D2GConfig)}
    return D2GConfig(**{k: v for k, v in values.items() if k in names})


def check_config(cfg: D2GConfig) -> None:
    """Raise InputError for settings that cannot work together."""
    step = 2 ** max(cfg.uv_down, cfg.tr_down)
    if cfg.size % step:
        raise InputError(
            f"size={cfg.size} is not divisible by {step} (2 ** the number of downsamplings).",
            f"Use a multiple of {step}, e.g. {max(step, cfg.size // step * step)}.",
        )
    if cfg.gan_mode not in ("lsgan", "hinge"):
        raise InputError(f"gan_mode={cfg.gan_mode!r} is unknown.", "Use lsgan or hinge.")
    if not 0.0 <= cfg.holdout < 1.0:
        raise InputError(f"holdout={cfg.holdout} must be in [0, 1).")
    if cfg.tex_channels < 3 or cfg.batch < 1 or cfg.steps < 0 or cfg.pose_frames < 1:
        raise InputError("tex_channels >= 3, batch >= 1, steps >= 0 and pose_frames >= 1.")
