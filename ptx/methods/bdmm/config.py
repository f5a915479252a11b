"""BDMM's settings and presets [003 §4.1, supp §1; the authors' code where the paper is
silent, methods.md §(c)].

Window: every output frame t sees the pre-warped source at frames t-2..t+2 (``RADIUS`` 2:
the forward propagation runs over t-2..t, the backward over t+2..t) and feeds back its own
previous output and structural bottleneck. A training item is ``CLIP`` = 7 consecutive
driving frames: the 3 middle ones are generated in order (each with its full window), so
the temporal critic sees 3 frames (the paper: 6).

Loss weights: the paper's Eq. 9 lists (adv, temp, l1, per, gram, cx) = (5, 5, 2, 500, 0.5,
0.1); the authors' code uses L1 5, GAN 2, Gram ("style") 500, perceptual ("content") 0.5,
contextual 0.1. ptx takes the code's for the terms where they disagree: 500 on the Gram
term is the convention of GFLA, whose losses BDMM's code reuses, and the paper's 500 on a
VGG L1 would outweigh its own pixel L1 by about three orders of magnitude. This choice could
not be measured here: the Gram, perceptual and contextual terms need the VGG-19 weights,
which are not on this machine, and without them training uses the pixel L1 alone (the
start-up note says so). ``w_per`` / ``w_gram`` set the paper's values.

Without those terms the critics' (adv 2, temp 5) outweigh the pixel L1 (5) about 6x in the
generator's loss. Measured on the 24-person crowd (ngf 16, 2,000 steps, held-out PSNR;
``benchmarks/results/bdmm_ablation_wider.json``): L1 5 gives 22.96 dB, L1 50 gives 22.85
dB, so ``w_l1`` keeps the code's 5 when the VGG terms are missing too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptx.config import setting
from ptx.errors import InputError
from ptx.methods.base import MethodConfig

RADIUS = 2
"""Frames before and after the output frame its propagation reads."""
GENERATED = 3
"""Frames generated in order per training item."""
CLIP = 2 * RADIUS + GENERATED
DIRECTIONS = ("both", "forward", "backward")
NORMS = ("none", "instance")
"""``instance``: instance norm in the generator's conv blocks and style encoder (the
supplement's block figures, whose legend defines "IN", and the authors' code); ``none``:
none (those convs get biases). The critics keep theirs either way."""
POSES = ("iuv", "heatmaps")


@dataclass
class BdmmConfig(MethodConfig):
    size: int = setting(256, fixed=True)
    batch: int = setting(8, fixed=True)
    steps: int = 50000
    lr: float = 1e-4
    beta1: float = 0.5
    """The paper's Adam betas (0.5, 0.999); the authors' code uses beta1 0."""
    lr_decay_start: float = 0.5
    """The code: 25k steps constant, then linear decay to 0 over 25k."""
    holdout: float = setting(0.0, fixed=True)
    data_budget_mb: float = 256.0
    ngf: int = setting(64, fixed=True)
    style_dim: int = setting(512, fixed=True)
    """Width of the style vector (and cap of the style encoder's widths)."""
    ndf: int = setting(32, fixed=True)
    d_lr_scale: float = 0.1
    """The critics' learning rate relative to the generator's (the code: 0.1)."""
    norm: str = setting("none", fixed=True)
    """Normalisation of the generator's conv blocks and style encoder (see NORMS). ptx
    departs from the authors' instance norm: it removes each channel's mean over the
    picture, so the warped source's absolute colours (the person's and the background's)
    cannot pass to the output, and a one-shot generator must carry them for a person it
    never saw. Measured (``benchmarks/bench_bdmm_ablation.py``: 6 synthetic people
    trained, 2 held out, 64 px, 1000 steps of batch 2, bidirectional): held-out PSNR 17.17
    dB / L1 0.108 with instance norm, 20.59 dB / L1 0.066 without (warp-only 26.06 dB)."""
    dmm: bool = setting(True, fixed=True)
    """Deformable motion modulation (false: a plain conv, the ablation "w/o DMM")."""
    direction: str = setting("both", fixed=True)
    """Propagation: both (sum of forward and backward DMM), forward, backward."""
    pose: str = setting("iuv", fixed=True)
    """Structural input: heatmaps (the paper's 18 COCO keypoint heatmaps, sigma 6 px at
    256 px) or iuv (the driving IUV image; the default while one-shot training data does
    not carry keypoints)."""
    w_l1: float = 5.0
    w_adv: float = 2.0
    w_temp: float = 5.0
    w_per: float = 0.5
    w_gram: float = 500.0
    w_cx: float = 0.1


PRESETS = {
    "tiny": {
        "size": 64, "batch": 2, "steps": 300, "ngf": 8, "style_dim": 64, "ndf": 8,
        "lr": 1e-3, "log_every": 10, "eval_every": 100, "sample_every": 100,
        "checkpoint_every": 100, "eval_frames": 8,
    },
    "small": {"size": 128, "batch": 4, "steps": 5000, "ngf": 32, "style_dim": 256, "ndf": 16},
    "paper": {},
}  # fmt: skip


def divisor(cfg: BdmmConfig) -> int:
    return 8


def check_config(cfg: BdmmConfig) -> None:
    if cfg.direction not in DIRECTIONS:
        raise InputError(
            f"direction={cfg.direction!r} is unknown.", "Use both, forward or backward."
        )
    if cfg.norm not in NORMS:
        raise InputError(f"norm={cfg.norm!r} is unknown.", "Use none or instance.")
    if cfg.pose not in POSES:
        raise InputError(f"pose={cfg.pose!r} is unknown.", "Use iuv or heatmaps.")
    if cfg.pose == "heatmaps":
        raise InputError(
            "pose=heatmaps needs keypoints in the one-shot training data, which ptx's shared "
            "loader does not read yet.",
            "Use pose=iuv.",
        )
    if cfg.size % 8:
        raise InputError(f"size={cfg.size} must be a multiple of 8 for BDMM.")
    if cfg.data_budget_mb <= 0 or cfg.d_lr_scale <= 0:
        raise InputError("data_budget_mb and d_lr_scale must be positive.")
