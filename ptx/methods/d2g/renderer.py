"""The D2G generator as one module: UV generator -> hybrid texture -> translator,
composited over a learnable background; and :class:`D2GInference`, the method's renderer.

``D2GGenerator.forward`` returns a :class:`GeneratorOutput`; every image is float in
[-1, 1] (B, C, H, W). This is also what transfer and scoring run, so it takes only what
exists at inference time: the pose label, the body-model IUV (when built with
``iuv_input``) and which video's background to use (or an explicit background image).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ptx.errors import InputError
from ptx.methods.base import RenderInputs, RenderOutput
from ptx.methods.d2g.translator import D2GTranslator
from ptx.nn.texture import HybridTexture
from ptx.nn.uv_generator import UVGenerator


@dataclass
class GeneratorOutput:
    """What one forward pass computes (B images of H x W); with ``uv_only`` only
    ``logits`` and ``uv`` are set."""

    logits: torch.Tensor
    """float (B, 25, H, W): part logits, 0 = background."""
    uv: torch.Tensor
    """float (B, 48, H, W) in [-1, 1]: per-part UV."""
    alpha: torch.Tensor | None
    """float (B, 1, H, W): person probability 1 - P_0."""
    hybrid: torch.Tensor | None
    """float (B, C_tex, H, W): the sampled hybrid texture I_ht."""
    fg: torch.Tensor | None
    """float (B, 3, H, W): the translator's foreground I_fg."""
    background: torch.Tensor | None
    """float (B, 3, H, W): the background used."""
    output: torch.Tensor | None
    """float (B, 3, H, W): I_syn = I_fg * alpha + background * (1 - alpha)."""
    static: torch.Tensor | None
    """float (B, 3, H, W): the static composite (texture RGB instead of I_fg)."""


def pose_channels(cfg: Any) -> int:
    """Channels of the pose label a config implies (3 or 6 per frame, times frames)."""
    return (6 if cfg.use_label3d else 3) * cfg.pose_frames


def build_uv_generator(cfg: Any) -> UVGenerator:
    """The UV generator a config describes (the one definition, for training, pretraining
    and rendering)."""
    return UVGenerator(
        pose_channels(cfg),
        cfg.uv_width,
        cfg.uv_down,
        cfg.uv_res,
        cap=cfg.width_cap,
        iuv_input=cfg.iuv_input,
        prior_logit=cfg.prior_logit,
        prior_offset=cfg.prior_offset,
    )


class D2GGenerator(nn.Module):
    """UV generator + hybrid texture + translator + one learnable background per video.

    The networks are fully convolutional (any H, W divisible by 2 ** max(uv_down,
    tr_down)); only the learned backgrounds have a size: (V, 3, H, W) for ``frame`` (H, W),
    default square ``cfg.size``."""

    def __init__(
        self, cfg: Any, n_backgrounds: int = 1, frame: tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        c_pose = pose_channels(cfg)
        self.uv_generator = build_uv_generator(cfg)
        self.texture = HybridTexture(cfg.tex_size, cfg.tex_channels, topk=cfg.tex_topk)
        self.translator = D2GTranslator(
            cfg.tex_channels,
            c_pose,
            cfg.tr_width,
            cfg.tr_down,
            cfg.tr_res,
            cap=cfg.width_cap,
            pose_condition=cfg.pose_condition,
            residual=cfg.tr_residual,
        )
        h, w = frame or (cfg.size, cfg.size)
        self.background = nn.Parameter(torch.zeros(n_backgrounds, 3, h, w))

    def forward(
        self,
        pose: torch.Tensor,
        iuv: torch.Tensor | None = None,
        video: torch.Tensor | None = None,
        background: torch.Tensor | None = None,
        translate: bool = True,
        uv_only: bool = False,
        bg_gate: torch.Tensor | None = None,
    ) -> GeneratorOutput:
        """``pose``: float (B, C_pose, H, W) in [-1, 1]; ``iuv``: uint8 (B, 3, H, W);
        ``video``: int64 (B,) index of each item's learned background (default 0), or
        ``background``: float (B or 1, 3, H, W) to composite over instead. With
        ``translate=False`` the translator is skipped (``fg`` is the static RGB). In
        training, ``bg_gate`` (float (B, 1, H, W) in [0, 1], the person mask) stops the
        learned background's gradient where the person is, so the person never gets baked
        into the background where the body model's outline misses them."""
        logits, uv = self.uv_generator(pose, iuv)
        if uv_only:
            return GeneratorOutput(logits, uv, None, None, None, None, None, None)
        probs = torch.softmax(logits.float(), dim=1)
        alpha = 1.0 - probs[:, :1]
        hybrid = self.texture(probs, uv.float())
        static_fg = hybrid[:, :3]
        fg = self.translator(hybrid.to(pose.dtype), pose).float() if translate else static_fg
        if background is None:
            idx = video if video is not None else torch.zeros(len(pose), dtype=torch.long)
            # index_select, not self.background[idx]: the gradient of advanced indexing
            # sums the items of one video with atomic adds in thread order on the CPU (a
            # run's result then depends on timing); index_select's sums them in item order.
            background = torch.index_select(self.background, 0, idx.to(self.background.device))
        bg = background.float().expand(len(pose), -1, -1, -1)
        if bg_gate is not None:
            bg = bg * (1.0 - bg_gate) + bg.detach() * bg_gate
        return GeneratorOutput(
            logits=logits,
            uv=uv,
            alpha=alpha,
            hybrid=hybrid,
            fg=fg,
            background=bg,
            output=fg * alpha + bg * (1.0 - alpha),
            static=static_fg * alpha + bg * (1.0 - alpha),
        )


class D2GInference:
    """D2G-Net's renderer (the :class:`~ptx.methods.base.Renderer` protocol): the
    generator of a checkpoint in eval mode; no state is carried between frames."""

    def __init__(
        self, cfg: Any, state: dict[str, Any], device: torch.device, frame: tuple[int, int]
    ) -> None:
        weights = state["generator"]
        self.cfg = cfg
        n, _, h, w = (int(v) for v in weights["background"].shape)
        if (h, w) != tuple(frame):
            raise InputError(
                f"This checkpoint's learned backgrounds are {h}x{w} (H x W) but its run's "
                f"frame is {frame[0]}x{frame[1]}.",
                "The run folder is inconsistent; render with the checkpoint's own run.",
            )
        self.net = D2GGenerator(cfg, n_backgrounds=n, frame=(h, w))
        self.net.load_state_dict(weights)
        self.net.to(device).eval()

    def start(self) -> None:
        return None

    def __call__(self, x: RenderInputs, state: None) -> tuple[RenderOutput, None]:
        out = self.net(x.pose, x.arrays.get("iuv"), video=x.video, background=x.background)
        return RenderOutput(out.output, out.fg, out.alpha), None
