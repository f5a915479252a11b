"""Ji, Zheng, Cham: one-shot human motion transfer via occlusion-robust flow prediction
and neural texturing (seed 002).

Trained once on many people's videos (``ptx train --method ji --subjects ...``), it
animates the person of one picture with driving DensePose (IUV) maps: MotionNet predicts
multi-scale flows and occlusions from the source and driving IUV (the 2D branch warps the
source's features with them), and two translation signals with which the 2.5D branch
builds a neural texture atlas and a translated IUV map per driving pose and renders it;
BlenderNet fuses both and super-resolves (128 -> 256 in the paper). Four training stages
run as phases of one run. See ``nets``, ``model``, ``losses``, ``trainer``, ``renderer``.

This module holds only the method's record (no torch import).
"""

from __future__ import annotations

from typing import Any

from ptx.methods.base import ONE_SHOT, Method, Window
from ptx.methods.ji.config import PRESETS, JiConfig, check_config, divisor

LOSSES = (
    "g_total", "d", "gan", "correct", "affine", "tv", "consist", "uv", "ce", "geo_l1",
    "geo_mask", "app_rec", "app_mask", "out_rec", "out_mask",
)  # fmt: skip


def _encoding(cfg: JiConfig, frame: tuple[int, int]) -> Any:
    from ptx.nn.poselabels import image_stack

    return image_stack(("iuv",))


def _build_trainer(setup: Any) -> Any:
    from ptx.methods.ji.trainer import JiTrainer

    return JiTrainer(setup)


def _build_renderer(cfg: JiConfig, state: dict[str, Any], device: Any, frame) -> Any:
    from ptx.methods.ji.renderer import JiRenderer

    return JiRenderer(cfg, state, device, frame)


METHOD = Method(
    name="ji",
    kind=ONE_SHOT,
    paper="Ji, Zheng, Cham: One-shot human motion transfer via occlusion-robust flow "
    "prediction and neural texturing",
    summary="one picture in: IUV-driven multi-scale flow with occlusion + neural texture "
    "atlas, fused by BlenderNet (128 -> 256), four training stages",
    config=JiConfig,
    presets=PRESETS,
    encoding=_encoding,
    window=lambda cfg: Window((0,)),
    build_trainer=_build_trainer,
    build_renderer=_build_renderer,
    losses=LOSSES,
    train_arrays=lambda cfg: ("iuv", "mask"),
    render_arrays=lambda cfg: ("iuv",),
    clip=1,
    scored=("output", "warp"),
    source_until="iuv",
    perceptual_fallback="pixel L1 pyramid (and pixels for the correctness loss)",
    check=check_config,
    divisor=divisor,
    saved_before={"norm": "instance"},
)
