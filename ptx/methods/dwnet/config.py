"""DwNet's settings and presets.

The paper's networks [DwNet §4.3, and the released code's options where the paper is
silent]: ngf 64, encoders of a 7x7 conv + 2 stride-2 convs, a refine branch of 2 convs + 2
ResNet blocks, a decoder of 9 ResNet blocks + 2 upsamplings, a 2-scale 3-layer PatchGAN
(ndf 64), lr 2e-4 decayed linearly to 0 over training, Adam beta1 0.5, lambda = 10 on the
reconstruction losses, 3 consecutive driving frames per sample (frames i, j, j+1, j+2).
"""

from __future__ import annotations

from dataclasses import dataclass

from ptx.config import setting
from ptx.errors import InputError
from ptx.methods.base import MethodConfig

NORMS = ("none", "instance")
"""The generator's normalisations (``ptx.nn.blocks.norm_layer``; not imported here: the
method's record loads without torch)."""

REGIONS = ("body", "everywhere")
"""Where the refine branch's correction of the coarse grid applies (``refine_region``)."""

COARSE = ("iuv", "none")
"""Coarse warp grids: ``iuv`` (the paper's per-part nearest neighbour in UV space,
``ptx.body.meshflow.iuv_nearest_flow``), ``none`` (identity: the ablation without W)."""


@dataclass
class DwNetConfig(MethodConfig):
    size: int = setting(256, fixed=True)
    batch: int = setting(1, fixed=True)
    steps: int = 20000
    lr_decay_start: float = 0.0
    """The paper decays the learning rate to zero over the whole training."""
    holdout: float = setting(0.0, fixed=True)
    """Frames at the end of each training video held out; one-shot runs hold out whole
    subjects instead (``--holdout-subjects``)."""
    data_budget_mb: float = 256.0
    """Memory budget (MiB) of the cache of frames read from the videos' stores."""
    ngf: int = setting(64, fixed=True)
    """Width of the first conv of the encoders and the last of the decoder. Measured at 64
    px on the synthetic crowd (12 people, 2 held out, 2,500 steps, held-out PSNR against
    warp-only's 25.32 dB, L1 against its 0.0158): ngf 16 / 2 blocks (``tiny``) 25.07 dB,
    0.0260; ngf 32 / 4 blocks 26.26 dB, 0.0212; the paper's 64 / 9 blocks 26.07 dB, 0.0212
    (benchmarks/results/oneshot_ngf32.json, oneshot_ngf64.json). With 24 people (22
    trained), ngf 32 / 4 blocks reach 27.07 dB, 0.0178 against the warp's 23.83 dB, 0.0182
    on that crowd's held-out pair (oneshot_24people.json)."""
    n_blocks: int = setting(9, fixed=True)
    """ResNet blocks of the decoder."""
    downs: int = setting(2, fixed=True)
    """Stride-2 convs of the encoders and R (and upsamplings of the decoder): the source's
    features are warped at 1 / 2^downs of the frame. The paper's 2 warps 256-px frames at
    64 x 64 [§3.1]; the presets keep that size of the warped features (``tiny``, 64 px: 0;
    ``small``, 128 px: 1). At 64 px the paper's 2 would leave 16 x 16 features, in which a
    person is two or three pixels wide and the body's features are mixed with the
    background's (measured: benchmarks/results/dwnet_norm.json, 21.2 dB held-out PSNR at
    ``downs`` 2 against 25.8 at 0)."""
    norm: str = setting("none", fixed=True)
    """Normalisation of the generator's layers: ``none`` or ``instance`` (the released
    code's pix2pixHD default; the paper does not say). Measured on the synthetic crowd
    (benchmarks/results/dwnet_norm.json; oneshot.json and its ``history``): instance norm,
    which removes each feature's mean over the picture, keeps the generator from carrying
    a new person's colours through, so held-out people stay several dB below the warp of
    their own picture (21.7 against 25.8 dB without it; 23.4 against 25.2 dB for the whole
    method after 5,000 steps)."""
    refine_blocks: int = setting(2, fixed=True)
    """ResNet blocks of the refine branch R."""
    ndf: int = setting(64, fixed=True)
    """Width of the discriminator's first layer."""
    d_layers: int = setting(3, fixed=True)
    d_scales: int = setting(2, fixed=True)
    coarse: str = setting("iuv", fixed=True)
    """Coarse warp grid: iuv or none (see COARSE)."""
    refine: bool = setting(True, fixed=True)
    """Learn the residual correction R of the coarse grid (off: the ablation without W-bar)."""
    refine_region: str = setting("body", fixed=True)
    """Where R's correction applies: ``body`` (the driving pose's body, grown by 1/32 of the
    features' side; elsewhere the coarse grid, the identity off the body) or
    ``everywhere``. The paper does not say; it motivates R by DensePose's errors and
    clothing, both on the person. Measured on the synthetic crowd (12 people, 2 held out,
    tiny, the 5,000-step model of benchmarks/results/oneshot.json): applied everywhere,
    the correction shifted the static background by 0.28 px on average (0.54 px next to
    the body), and DwNet's error there was 5-6x the warp's (L1 0.014 against 0.0024) while
    on and around the body it was level with it. Restricted to the body, after 2,500 steps:
    the same PSNR (25.07 against 25.09 dB) and a lower temporal error (0.0121 against
    0.0138); the background error stayed (it is the decoder's blur of textures, not the
    grid: benchmarks/results/oneshot_ngf32.json's note)."""
    previous: bool = setting(True, fixed=True)
    """Condition on the previously generated frame (off: the ablation without d_i)."""
    w_rec: float = 10.0
    """lambda of the reconstruction losses (VGG perceptual and feature matching)."""
    w_gan: float = 1.0
    gan_mode: str = "lsgan"


PRESETS = {
    "tiny": {
        "size": 64, "batch": 2, "steps": 300, "ngf": 16, "n_blocks": 2, "refine_blocks": 1,
        "downs": 0, "ndf": 16, "d_layers": 2, "d_scales": 1, "lr": 1e-3, "log_every": 10,
        "eval_every": 100, "sample_every": 100, "checkpoint_every": 100, "eval_frames": 8,
    },
    "small": {
        "size": 128, "batch": 2, "steps": 4000, "ngf": 32, "n_blocks": 6, "ndf": 32, "downs": 1,
    },
    "paper": {},
}  # fmt: skip


def divisor(cfg: DwNetConfig) -> int:
    return 2**cfg.downs


def check_config(cfg: DwNetConfig) -> None:
    if cfg.coarse not in COARSE:
        raise InputError(f"coarse={cfg.coarse!r} is unknown.", f"Use {' or '.join(COARSE)}.")
    if cfg.refine_region not in REGIONS:
        raise InputError(
            f"refine_region={cfg.refine_region!r} is unknown.", f"Use {' or '.join(REGIONS)}."
        )
    if cfg.norm not in NORMS:
        raise InputError(f"norm={cfg.norm!r} is unknown.", f"Use {' or '.join(NORMS)}.")
    if cfg.gan_mode not in ("lsgan", "hinge"):
        raise InputError(f"gan_mode={cfg.gan_mode!r} is unknown.", "Use lsgan or hinge.")
    if cfg.data_budget_mb <= 0:
        raise InputError("data_budget_mb must be positive.")
    if not 0 <= cfg.downs <= 4:
        raise InputError(f"downs={cfg.downs} is out of range.", "Use 0 to 4 (the paper: 2).")
    if cfg.size % 2**cfg.downs:
        raise InputError(f"size={cfg.size} must be a multiple of {2**cfg.downs} for DwNet.")
