"""Ren et al., "Human Motion Transfer from Poses in the Wild" (2020; seed
001), written for ptx from the paper's text as ``papers/methods.md`` (a) gathers it: a
person-specific pose-to-video translator made robust to poses unlike the training video.

- Input: one BODY_25 limb per channel (24), drawn from the keypoints, stacked over the
  frames t-K..t+K (K = 2); frames past a sequence's ends repeat the nearest one.
- Pose augmentation in keypoint space before drawing: limb lengths, global scale and
  shift, joint jitter, dropped limb channels (magnitudes are ptx's: the ``aug_*``
  settings; ``ptx.methods.ren.poses``).
- Two stages: G1 (limb-map window -> picture), then G2 (G1's pictures at t-K..t+K ->
  refined picture) with G1 frozen; pix2pixHD generators; G1 is trained at half resolution
  first (the paper's coarse-to-fine schedule).
- Three discriminators per stage: paired single-frame D_p (conditioned on the stage's
  input), temporal D_t on M = 3 consecutive frames (unconditioned), unpaired D_w
  (conditioned on limb maps) for poses from other videos (``--unpaired``), which get the
  adversarial and temporal terms only. Losses: lambda_vgg = 10 (VGG-19; pixel L1 without
  its weights), lambda_fm = 10 on D_p and D_t, LSGAN.
- Foreground only: trained on masked frames over a solid colour; renders colour and alpha,
  so ``ptx transfer --background IMG`` and ``--alpha`` use them directly; without a
  background the person is composited over the video's prepared background plate.
- Rendering reads K frames ahead (2K with stage 2): the streaming renderer carries them
  across chunks.

This module holds only the method's record (no torch import).
"""

from __future__ import annotations

from typing import Any

from ptx.methods.base import PERSON, Method, Window
from ptx.methods.ren.config import PRESETS, RenConfig, check_config, divisor, offsets


def _encoding(cfg: RenConfig, frame: tuple[int, int]) -> Any:
    from ptx.body.skeleton import BODY_25_LIMBS
    from ptx.nn.poselabels import bone_stack

    return bone_stack(BODY_25_LIMBS, frame, radius=cfg.bone_radius * max(frame))


def _build_trainer(setup: Any) -> Any:
    from ptx.methods.ren.trainer import build_trainer

    return build_trainer(setup)


def _build_renderer(
    cfg: RenConfig, state: dict[str, Any], device: Any, frame: tuple[int, int]
) -> Any:
    from ptx.methods.ren.model import RenInference

    return RenInference(cfg, state, device, frame)


METHOD = Method(
    name="ren",
    kind=PERSON,
    paper="Ren et al., Human Motion Transfer from Poses in the Wild (2020)",
    summary="limb maps over t-2..t+2 -> foreground + alpha, pose augmentation, unpaired "
    "poses, two stages, temporal discriminator",
    config=RenConfig,
    presets=PRESETS,
    encoding=_encoding,
    window=lambda cfg: Window(offsets(cfg)),
    build_trainer=_build_trainer,
    build_renderer=_build_renderer,
    losses=("g_total", "d", "gan_p", "gan_t", "gan_w", "fm", "vgg", "l1", "mask"),
    train_arrays=lambda cfg: ("keypoints", "mask", "background"),
    clip=11,
    scored=("output",),
    source_until="crop",
    retarget="2d",
    perceptual_fallback="pixel L1",
    check=check_config,
    divisor=divisor,
)
