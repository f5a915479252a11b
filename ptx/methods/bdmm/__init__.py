"""BDMM (Yu et al., ICCV 2023): one-shot video pose transfer by Bidirectionally Deformable
Motion Modulation.

Trained once on many people's videos (``ptx train --method bdmm --subjects ...``), it
animates the person of one picture: the picture is pre-warped to every driving frame, the
warped frames of a window around each output are propagated forward and backward, and
the decoder fuses the two through deformable convolutions whose kernels are modulated by a
style code of the picture (``ptx.nn.deform``). See ``nets``, ``trainer``, ``renderer``;
``config`` gives the window, the presets and the loss weights chosen.

This module holds only the method's record (no torch import).
"""

from __future__ import annotations

from typing import Any

from ptx.methods.base import ONE_SHOT, Method, Window
from ptx.methods.bdmm.config import CLIP, PRESETS, BdmmConfig, check_config, divisor


def _encoding(cfg: BdmmConfig, frame: tuple[int, int]) -> Any:
    from ptx.methods.bdmm.prewarp import encoding

    return encoding(cfg.pose, frame)


def _window(cfg: BdmmConfig) -> Window:
    from ptx.methods.bdmm.config import RADIUS

    lo = -RADIUS if cfg.direction in ("both", "forward") else 0
    hi = RADIUS if cfg.direction in ("both", "backward") else 0
    return Window(tuple(range(lo, hi + 1)), feedback=True)


def _build_trainer(setup: Any) -> Any:
    from ptx.methods.bdmm.trainer import BdmmTrainer

    return BdmmTrainer(setup)


def _build_renderer(cfg: BdmmConfig, state: dict[str, Any], device: Any, frame) -> Any:
    from ptx.methods.bdmm.renderer import BdmmRenderer

    return BdmmRenderer(cfg, state, device, frame)


METHOD = Method(
    name="bdmm",
    kind=ONE_SHOT,
    paper="Yu et al., Bidirectionally Deformable Motion Modulation for Video-based Human "
    "Pose Transfer (ICCV 2023)",
    summary="one picture in: pre-warped source, forward+backward propagation over a 5-frame "
    "window, style-modulated deformable convs (DMM), spatial + 3D temporal critics",
    config=BdmmConfig,
    presets=PRESETS,
    encoding=_encoding,
    window=_window,
    build_trainer=_build_trainer,
    build_renderer=_build_renderer,
    losses=("g_total", "d", "adv", "temp", "l1", "per", "gram", "cx"),
    train_arrays=lambda cfg: ("iuv",),
    render_arrays=lambda cfg: (),
    clip=CLIP,
    scored=("output", "warp"),
    source_until="iuv",
    perceptual_fallback="pixel L1 alone (no perceptual, Gram or contextual term)",
    check=check_config,
    divisor=divisor,
    saved_before={"norm": "instance"},
)
