"""D2G-Net (Sun et al., TPAMI 2022), written for ptx: UV generator, hybrid texture,
texture-to-screen mapping, D2G translator, learnable background, multi-scale PatchGAN,
losses, and the training step.

This module holds only the method's record (no torch import): the registry lists it
cheaply, and the networks load when a trainer or renderer is built.
"""

from __future__ import annotations

from typing import Any

from ptx.methods.base import PERSON, Method, Window
from ptx.methods.d2g.config import PRESETS, D2GConfig, check_config, divisor


def _encoding(cfg: D2GConfig, frame: tuple[int, int]) -> Any:
    from ptx.nn.poselabels import image_stack

    return image_stack(("poselabel", "label3d") if cfg.use_label3d else ("poselabel",))


def _window(cfg: D2GConfig) -> Window:
    """The pose label stacks frames t, t-1, t-2 (``pose_frames`` of them), newest first."""
    return Window(tuple(-k for k in range(cfg.pose_frames)))


def _build_trainer(setup: Any) -> Any:
    from ptx.methods.d2g.trainer import build_trainer

    return build_trainer(setup)


def _build_renderer(
    cfg: D2GConfig, state: dict[str, Any], device: Any, frame: tuple[int, int]
) -> Any:
    from ptx.methods.d2g.renderer import D2GInference

    return D2GInference(cfg, state, device, frame)


def _pretrainer(cfg: D2GConfig, device: Any) -> Any:
    from ptx.methods.d2g.pretrain import UVPretrainer

    return UVPretrainer(cfg, device)


LOSSES = (
    "g_total", "d", "l2", "static", "l1", "vgg", "gan", "fm", "temporal", "uv", "part", "mask",
)  # fmt: skip
"""The loss columns of a D2G run's log."""

METHOD = Method(
    name="d2g",
    kind=PERSON,
    paper="Sun et al., Robust Pose Transfer with Dynamic Details (TPAMI 2022)",
    summary="UV generator + 24-part hybrid texture + pose-conditioned translator + "
    "learned background",
    config=D2GConfig,
    presets=PRESETS,
    encoding=_encoding,
    window=_window,
    build_trainer=_build_trainer,
    build_renderer=_build_renderer,
    losses=LOSSES,
    train_arrays=lambda cfg: ("iuv", "mask", "background", "flow"),
    render_arrays=lambda cfg: ("iuv",) if cfg.iuv_input else (),
    clip=2,
    scored=("output", "static"),
    source_until="label3d",
    perceptual_fallback="pixel L1 + discriminator feature matching",
    check=check_config,
    pretrain=_pretrainer,
    divisor=divisor,
)
