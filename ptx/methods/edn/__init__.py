"""Everybody Dance Now (Chan, Ginosar, Zhou, Efros, ICCV 2019), written for ptx from the
facts ``papers/methods.md`` (e) gathers: a person-specific pix2pixHD that maps a skeleton
image (body, and hands when the keypoints have them) to the whole frame, background
included.

- Generator: pix2pixHD's global generator on the pose label of frame t concatenated with
  the previous generated frame (zeros before the first); at 512 px and above (the
  ``paper`` preset) the local enhancer, its global part trained first at half resolution.
- Temporal smoothing: training items are pairs of consecutive frames; I_1 is generated from
  I_0; a multi-scale PatchGAN sees both (label, frame) pairs at once.
- Losses: LSGAN, discriminator feature matching, VGG-19 perceptual (pixel L1 without its
  weights).
- Face GAN, a last phase: a small residual generator refines a square crop around the face
  (BODY_25's nose, eyes and ears: ptx stores no face contour, so the face is not drawn in
  the label), with its own one-scale discriminator on (face label, face).
- Transfer: EDN's global pose normalisation (``ptx transfer --retarget 2d``, the default
  for this method) of keypoints smoothed over time (the keypoints stage's smoothing).
- Rendering feeds each output frame back as the next frame's previous frame, across chunk
  boundaries. EDN outputs no person mask: ``--background`` is refused and ``--alpha``
  gives opaque frames.

This module holds only the method's record (no torch import).
"""

from __future__ import annotations

from typing import Any

from ptx.methods.base import PERSON, Method, Window
from ptx.methods.edn.config import PRESETS, EDNConfig, check_config, divisor


def _encoding(cfg: EDNConfig, frame: tuple[int, int]) -> Any:
    from ptx.nn.poselabels import image_stack

    return image_stack(("poselabel",))


def _build_trainer(setup: Any) -> Any:
    from ptx.methods.edn.trainer import build_trainer

    return build_trainer(setup)


def _build_renderer(
    cfg: EDNConfig, state: dict[str, Any], device: Any, frame: tuple[int, int]
) -> Any:
    from ptx.methods.edn.model import EDNInference

    return EDNInference(cfg, state, device)


LOSSES = (
    "g_total", "d", "gan", "fm", "vgg", "l1", "face_gan", "face_vgg", "face_l1", "face_d",
)  # fmt: skip
"""The loss columns of an EDN run's log."""

METHOD = Method(
    name="edn",
    kind=PERSON,
    paper="Chan et al., Everybody Dance Now (ICCV 2019)",
    summary="pix2pixHD on skeleton images, previous-frame conditioning, two-frame "
    "discriminator, face GAN",
    config=EDNConfig,
    presets=PRESETS,
    encoding=_encoding,
    window=lambda cfg: Window((0,), feedback=True),
    build_trainer=_build_trainer,
    build_renderer=_build_renderer,
    losses=LOSSES,
    train_arrays=lambda cfg: ("keypoints",) if cfg.face_gan else (),
    render_arrays=lambda cfg: ("keypoints",) if cfg.face_gan else (),
    clip=2,
    scored=("output",),
    source_until="poselabel",
    perceptual_fallback="pixel L1 + discriminator feature matching",
    check=check_config,
    divisor=divisor,
    retarget="2d",
)
