"""DwNet (Zablotskaia et al., BMVC 2019): one-shot pose transfer by dense warping.

Trained once on many people's videos (``ptx train --method dwnet --subjects ...``), it
animates the person of one picture with another video's motion: the source picture's
features are warped to the driving pose by a coarse grid from the IUV images (per-part
nearest neighbour in UV space) plus a learned residual correction, joined by the
previous generated frame's warped features (rendered recurrently) and the driving pose's
features, and decoded. See ``nets``, ``trainer`` and ``renderer``.

This module holds only the method's record (no torch import).
"""

from __future__ import annotations

from typing import Any

from ptx.methods.base import ONE_SHOT, Method, Window
from ptx.methods.dwnet.config import PRESETS, DwNetConfig, check_config, divisor


def _encoding(cfg: DwNetConfig, frame: tuple[int, int]) -> Any:
    from ptx.nn.poselabels import image_stack

    return image_stack(("iuv",))


def _build_trainer(setup: Any) -> Any:
    from ptx.methods.dwnet.trainer import DwNetTrainer

    return DwNetTrainer(setup)


def _build_renderer(cfg: DwNetConfig, state: dict[str, Any], device: Any, frame) -> Any:
    from ptx.methods.dwnet.renderer import DwNetRenderer

    return DwNetRenderer(cfg, state, device, frame)


METHOD = Method(
    name="dwnet",
    kind=ONE_SHOT,
    paper="Zablotskaia et al., DwNet: Dense warp-based network for pose-guided human video "
    "generation (BMVC 2019)",
    summary="one picture in: IUV warp grids (coarse + learned residual), previous-frame "
    "conditioning, pix2pixHD losses",
    config=DwNetConfig,
    presets=PRESETS,
    encoding=_encoding,
    window=lambda cfg: Window((0,), feedback=bool(cfg.previous)),
    build_trainer=_build_trainer,
    build_renderer=_build_renderer,
    losses=("g_total", "d", "gan", "fm", "vgg", "l1"),
    train_arrays=lambda cfg: ("iuv",),
    render_arrays=lambda cfg: ("iuv",),
    clip=3,
    scored=("output", "warp"),
    source_until="iuv",
    perceptual_fallback="pixel L1",
    check=check_config,
    divisor=divisor,
    saved_before={"norm": "instance", "downs": 2, "refine_region": "everywhere"},
)
