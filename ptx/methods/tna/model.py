"""TNA's generator (bone stack -> parts + UV -> RGB texture, over a learned background)
and :class:`TNAInference`, its renderer.

Every image is float (B, C, H, W) in [-1, 1]. The composite is
``I = T(P, C) * (1 - P_0) + background * P_0``: the explicit texture sampled at the
predicted part coordinates, weighted by the part probabilities (``ptx.nn.texture``), over
the video's learned background (D2G-Net's "refined background", with which D2G-Net's
authors ran TNA).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ptx.methods.base import RenderInputs, RenderOutput
from ptx.nn.texture import HybridTexture
from ptx.nn.uv_generator import UVGenerator


def bone_channels() -> int:
    """Channels of the pose input: one per BODY_25 limb."""
    from ptx.body.skeleton import BODY_25_LIMBS

    return len(BODY_25_LIMBS)


@dataclass
class TNAOutput:
    """One forward pass; with ``uv_only`` only ``logits`` and ``uv`` are set."""

    logits: torch.Tensor
    """float (B, 25, H, W): part logits, 0 = background."""
    uv: torch.Tensor
    """float (B, 48, H, W) in [-1, 1]: per-part UV."""
    alpha: torch.Tensor | None = None
    """float (B, 1, H, W): person probability 1 - P_0."""
    fg: torch.Tensor | None = None
    """float (B, 3, H, W): the sampled texture."""
    background: torch.Tensor | None = None
    output: torch.Tensor | None = None
    """float (B, 3, H, W): the composite."""


class TNAGenerator(nn.Module):
    """UV generator on the bone stack + 24-part RGB texture + one background per video."""

    def __init__(
        self, cfg: Any, n_backgrounds: int = 1, frame: tuple[int, int] | None = None
    ) -> None:
        super().__init__()
        self.uv_generator = UVGenerator(
            bone_channels(), cfg.uv_width, cfg.uv_down, cfg.uv_res, cap=cfg.width_cap
        )
        self.texture = HybridTexture(cfg.tex_size, 3, topk=cfg.tex_topk)
        h, w = frame or (cfg.size, cfg.size)  # the run's frame (H, W); old runs: square
        self.background = nn.Parameter(torch.zeros(n_backgrounds, 3, h, w))

    def forward(
        self,
        pose: torch.Tensor,
        video: torch.Tensor | None = None,
        background: torch.Tensor | None = None,
        uv_only: bool = False,
        bg_gate: torch.Tensor | None = None,
    ) -> TNAOutput:
        """``pose``: float (B, 24, H, W) bone stack; ``video``: int64 (B,) learned
        background index (default 0), or ``background`` float (B or 1, 3, H, W) to
        composite over instead. ``bg_gate`` (training: the person mask) stops the learned
        background's gradient where the person is."""
        logits, uv = self.uv_generator(pose)
        if uv_only:
            return TNAOutput(logits, uv)
        probs = torch.softmax(logits.float(), dim=1)
        alpha = 1.0 - probs[:, :1]
        fg = self.texture(probs, uv.float())
        if background is None:
            idx = video if video is not None else torch.zeros(len(pose), dtype=torch.long)
            background = self.background[idx.to(self.background.device)]
        bg = background.float().expand(len(pose), -1, -1, -1)
        if bg_gate is not None:
            bg = bg * (1.0 - bg_gate) + bg.detach() * bg_gate
        return TNAOutput(logits, uv, alpha, fg, bg, fg * alpha + bg * (1.0 - alpha))


class TNAInference:
    """TNA's renderer: the generator of a checkpoint in eval mode; frame by frame, no
    carried state."""

    def __init__(
        self, cfg: Any, state: dict[str, Any], device: torch.device, frame: tuple[int, int]
    ) -> None:
        weights = state["generator"]
        self.net = TNAGenerator(cfg, int(weights["background"].shape[0]), frame)
        self.net.load_state_dict(weights)
        self.net.to(device).eval()

    def start(self) -> None:
        return None

    def __call__(self, x: RenderInputs, state: None) -> tuple[RenderOutput, None]:
        out = self.net(x.pose, video=x.video, background=x.background)
        return RenderOutput(out.output, out.fg, out.alpha), None
