"""Ji et al.'s settings and presets.

The paper's values [002 §III-E, §IV Implementation]: input 128 x 128, output 256 x 256
(``size`` is the output, ``sr`` the super-resolution factor, so the networks see
``size / sr``); alpha and rho of lengths 384 and 256; Adam at lr 2e-4, batch 8;
600,000 steps in four stages of 100k, 100k, 200k and 200k; loss weights
lambda_cor 5, lambda_reg 0.01, lambda_tv 1, lambda_con 5, lambda_uv 5, lambda_ce 1,
lambda_p 10, lambda_1 1.

Where the paper is silent (its supplement with the layer structure is not available) we
chose, and say so here: no normalisation in the generator (``norm``, measured there);
Adam beta1 0.5 (ptx's GAN default) and a constant learning rate (no decay is mentioned);
network widths (``ngf`` 64); the texture atlas of 16 channels at 32 x 32 per part; the
mask (BCE) and adversarial weights, 1.0 each.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptx.config import setting
from ptx.errors import InputError
from ptx.methods.base import MethodConfig

BRANCHES = ("both", "flow", "texture")
"""``both``: the full model; ``flow``: the 2D branch with MotionNet and BlenderNet;
``texture``: the 2.5D branch with MotionNet's encoder and BlenderNet [002 Tab. III]."""
TEXTURE_UV = ("predicted", "driving")
"""Where the texture atlas is sampled: ``predicted`` (the paper: the translated DensePose
P_d-hat of T_geo), ``driving`` (the driving IUV itself, as ptx's IUV is rendered from the
fitted body and is clean; T_geo is still trained by L_iuv)."""
NORMS = ("none", "instance")
"""``instance``: instance norm after each conv of the generator's blocks (pix2pixHD's);
``none``: none (the convs get biases). The paper does not name a normalisation."""
STAGES = ("geometry", "motion", "joint", "blend")
"""The four stages [002 §IV]: (1) the 2.5D branch and MotionNet's encoder; (2) MotionNet
and the 2D branch, the rest frozen; (3) everything end to end; (4) BlenderNet with its
super-resolution block, the rest frozen."""


@dataclass
class JiConfig(MethodConfig):
    size: int = setting(256, fixed=True)
    """Output frame's long side; the networks see ``size / sr``."""
    sr: int = setting(2, fixed=True)
    """Super-resolution factor of BlenderNet (1: the paper's 256 -> 256 variant, no SR block)."""
    batch: int = setting(8, fixed=True)
    steps: int = 600000
    lr_decay_start: float = 1.0
    """The paper gives a constant learning rate."""
    holdout: float = setting(0.0, fixed=True)
    """One-shot runs hold out whole subjects (``--holdout-subjects``)."""
    data_budget_mb: float = 256.0
    branches: str = setting("both", fixed=True)
    """both, flow or texture (see BRANCHES)."""
    stages: str = setting("1,1,2,2", fixed=True)
    """Relative lengths of the stages geometry, motion, joint, blend (the paper's
    100k, 100k, 200k, 200k); a branch ablation drops the stage of the missing branch."""
    texture_uv: str = setting("predicted", fixed=True)
    """Where the atlas is sampled (see TEXTURE_UV)."""
    norm: str = setting("none", fixed=True)
    """Normalisation in the generator's conv blocks (see NORMS); the critic has none. The
    paper names none; instance norm (pix2pixHD's, which ptx's blocks follow) removes each
    channel's mean over the picture, so the source's absolute colours (the person's and
    the background's) cannot pass to the output, and a one-shot generator must carry them
    for a person it never saw. Measured (``benchmarks/bench_ji_ablation.py``: 6 synthetic
    people trained, 2 held out, 64 px from 32 px, 600 steps of batch 2, both branches):
    held-out PSNR 15.31 dB / L1 0.143 with instance norm, 21.00 dB / L1 0.062 without
    (warp-only 26.06 dB / 0.015)."""
    ngf: int = setting(64, fixed=True)
    """Width of the first conv of every encoder (doubling per downsampling, capped at 8x)."""
    alpha_dim: int = setting(384, fixed=True)
    rho_dim: int = setting(256, fixed=True)
    tex_channels: int = setting(16, fixed=True)
    """c of the neural texture atlas (24 x c x h x w)."""
    tex_size: int = setting(32, fixed=True)
    """h = w of each part's atlas."""
    ndf: int = setting(64, fixed=True)
    d_blocks: int = setting(3, fixed=True)
    """Stride-2 ResNet blocks of the discriminator."""
    correct_levels: int = 2
    """Flow levels (coarsest first) given the perceptual correctness loss (it compares
    every pair of positions, so its cost grows with the 4th power of the side)."""
    w_cor: float = 5.0
    w_reg: float = 0.01
    w_tv: float = 1.0
    w_con: float = 5.0
    w_uv: float = 5.0
    w_ce: float = 1.0
    w_perc: float = 10.0
    w_l1: float = 1.0
    w_mask: float = 1.0
    w_gan: float = 1.0


PRESETS = {
    "tiny": {
        "size": 64, "sr": 2, "batch": 2, "steps": 400, "ngf": 8, "alpha_dim": 32,
        "rho_dim": 32, "tex_channels": 4, "tex_size": 16, "ndf": 8, "d_blocks": 2,
        "lr": 1e-3, "log_every": 10, "eval_every": 100, "sample_every": 100,
        "checkpoint_every": 100, "eval_frames": 8,
    },
    "small": {
        "size": 128, "batch": 4, "steps": 8000, "ngf": 32, "alpha_dim": 192,
        "rho_dim": 128, "tex_channels": 8, "ndf": 32,
    },
    "paper": {},
}  # fmt: skip


def divisor(cfg: JiConfig) -> int:
    """The networks see size / sr and downsample it 16 times."""
    return 16 * int(cfg.sr)


def stage_plan(cfg: JiConfig) -> list[tuple[str, int]]:
    """[(stage, its last step + 1)] over ``cfg.steps``: the stages this branch setting has,
    each given its share of the steps (the last takes what rounding leaves)."""
    weights = [float(x) for x in str(cfg.stages).split(",")]
    keep = [
        (name, w)
        for name, w in zip(STAGES, weights, strict=True)
        if not (name == "geometry" and cfg.branches == "flow")
        and not (name == "motion" and cfg.branches == "texture")
    ]
    total = sum(w for _, w in keep)
    plan, acc = [], 0.0
    for i, (name, w) in enumerate(keep):
        acc += w
        end = int(cfg.steps) if i == len(keep) - 1 else round(int(cfg.steps) * acc / total)
        plan.append((name, end))
    return plan


def check_config(cfg: JiConfig) -> None:
    if cfg.branches not in BRANCHES:
        raise InputError(f"branches={cfg.branches!r} is unknown.", f"Use {', '.join(BRANCHES)}.")
    if cfg.norm not in NORMS:
        raise InputError(f"norm={cfg.norm!r} is unknown.", "Use none or instance.")
    if cfg.texture_uv not in TEXTURE_UV:
        raise InputError(f"texture_uv={cfg.texture_uv!r} is unknown.", "Use predicted or driving.")
    try:
        weights = [float(x) for x in str(cfg.stages).split(",")]
    except ValueError:
        weights = []
    if len(weights) != 4 or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(
            f"stages={cfg.stages!r} must be four lengths >= 0, e.g. 1,1,2,2.",
            "Give the relative lengths of the geometry, motion, joint and blend stages.",
        )
    if cfg.sr < 1 or cfg.size % divisor(cfg):
        raise InputError(
            f"size={cfg.size} must be a multiple of 16 x sr = {divisor(cfg)} for ji (sr >= 1)."
        )
    for name in ("ngf", "alpha_dim", "rho_dim", "tex_channels", "tex_size", "ndf", "d_blocks"):
        if getattr(cfg, name) < 1:
            raise InputError(f"{name}={getattr(cfg, name)} must be at least 1.")
    if cfg.tex_size < 4 or cfg.tex_size & (cfg.tex_size - 1):
        raise InputError(f"tex_size={cfg.tex_size} must be a power of 2, 4 or more.")
    if cfg.data_budget_mb <= 0:
        raise InputError("data_budget_mb must be positive.")
