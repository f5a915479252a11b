"""Textured Neural Avatars (Shysheya et al., CVPR 2019), written for ptx as D2G-Net's
authors describe and re-implemented it: a fully convolutional network maps a stack of bone
rasterisations (one bone per channel) to body-part assignments and per-part texture
coordinates, which sample an explicit, static RGB texture; the image and mask losses are
backpropagated through the sampling into the network and onto the texture. In ptx's terms
it is D2G-Net's static path without the translator and without the texture's detail
channels, taking the bone stack as its pose input.

What is TNA's and what ptx chose (its paper's loss types and weights, texture resolution
and network widths were not available to us, so these are D2G-Net's, for a comparison that
isolates the architecture):

- input: one channel per BODY_25 limb (24), rasterised from the keypoints (TNA projects 3D
  joints; ptx's keypoints are the 2D detections, or under ``--retarget 3d`` the projected
  joints of the retargeted body). Bone half-width: ``bone_radius`` of the frame height;
- network: ptx's UV generator (pix2pixHD-style trunk, part-logit and UV heads), without
  the body-model IUV as an input (TNA sees the bones only);
- texture: 24 part charts of ``tex_size`` texels, RGB, initialised by unwrapping the
  training frames through their IUV;
- losses: pixel L2 and VGG-19 (or L1 without its weights) on the composite, BCE on the
  person probability against the mask, and the part cross-entropy and UV L1 against the
  body-model IUV (TNA initialises from DensePose), with D2G-Net's weights;
- background: a learned image per video, initialised from the background stage (D2G-Net's
  authors ran TNA "with our refined background").

This module holds only the method's record (no torch import).
"""

from __future__ import annotations

from typing import Any

from ptx.methods.base import PERSON, Method, Window
from ptx.methods.tna.config import PRESETS, TNAConfig, check_config, divisor


def _encoding(cfg: TNAConfig, frame: tuple[int, int]) -> Any:
    from ptx.body.skeleton import BODY_25_LIMBS
    from ptx.nn.poselabels import bone_stack

    return bone_stack(BODY_25_LIMBS, frame, radius=cfg.bone_radius * cfg.size)


def _build_trainer(setup: Any) -> Any:
    from ptx.methods.tna.trainer import build_trainer

    return build_trainer(setup)


def _build_renderer(
    cfg: TNAConfig, state: dict[str, Any], device: Any, frame: tuple[int, int]
) -> Any:
    from ptx.methods.tna.model import TNAInference

    return TNAInference(cfg, state, device, frame)


METHOD = Method(
    name="tna",
    kind=PERSON,
    paper="Shysheya et al., Textured Neural Avatars (CVPR 2019)",
    summary="one bone per channel -> body parts + UV -> explicit RGB texture, over a "
    "learned background",
    config=TNAConfig,
    presets=PRESETS,
    encoding=_encoding,
    window=lambda cfg: Window((0,)),
    build_trainer=_build_trainer,
    build_renderer=_build_renderer,
    losses=("g_total", "l2", "l1", "vgg", "uv", "part", "mask"),
    train_arrays=lambda cfg: ("iuv", "mask", "background"),
    clip=1,
    scored=("output",),
    source_until="crop",
    perceptual_fallback="pixel L1",
    check=check_config,
    divisor=divisor,
)
