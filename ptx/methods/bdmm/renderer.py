"""BDMM at inference: one source picture, then driving frames rendered in order.

Output frame t reads the encodings of frames t-2..t+2 (the method's window; forward-only
reads t-2..t, backward-only t..t+2), so the shared streaming renderer hands each batch 2
frames of context before it and reads 2 frames ahead: **latency** is 2 frames of
lookahead (backward propagation needs the future), and each batch of b frames pre-warps
and encodes b + 4 frames (the overlap). **Memory** does not grow with the video: at most
b + 4 encodings, the b + 4 frames' warp features (3 ngf channels at 1/2 and 1/4 size) and
the carried state are held. The carried state is (previous output, previous structural
bottleneck); every network call runs on one frame, so a video rendered in chunks of any
size is bit for bit the one-chunk render.

The whole picture is generated (the source's background included); the alpha is the
driving body's coverage (IUV part > 0).
"""

from __future__ import annotations

from typing import Any

import torch

from ptx.methods.base import RenderInputs, RenderOutput
from ptx.methods.bdmm.config import RADIUS
from ptx.methods.bdmm.prewarp import Prewarp, iuv_of, structure_of
from ptx.methods.bdmm.trainer import build_generator
from ptx.methods.oneshot import OneShotRenderer, over_background


def offsets(direction: str) -> tuple[int, ...]:
    lo = -RADIUS if direction in ("both", "forward") else 0
    hi = RADIUS if direction in ("both", "backward") else 0
    return tuple(range(lo, hi + 1))


class BdmmRenderer(OneShotRenderer):
    def build(self, cfg: Any) -> torch.nn.Module:
        self.offsets = offsets(cfg.direction)
        return build_generator(cfg)

    @torch.no_grad()
    def set_source(self, frame: torch.Tensor, iuv: torch.Tensor) -> None:
        """The picture to animate, its pre-warp and its style code."""
        super().set_source(frame, iuv)
        self.prewarp = Prewarp(self.source, self.source_iuv)
        self.style = self.g.style(self.source)

    def start(self) -> Any:
        self.require_source()
        return (self.source, None)

    @torch.no_grad()
    def __call__(self, inputs: RenderInputs, state: Any) -> tuple[RenderOutput, Any]:
        assert self.source is not None
        prev, memory = state
        n, k = inputs.pose.shape[0], len(self.offsets)
        codes = inputs.pose.view(n, k, -1, *inputs.pose.shape[-2:])
        feats: dict[bytes, tuple[torch.Tensor, torch.Tensor]] = {}
        outs = []
        for t in range(n):
            window: list[Any] = [None] * (2 * RADIUS + 1)
            for j, o in enumerate(self.offsets):
                iuv = iuv_of(codes[t, j : j + 1])
                key = iuv.cpu().numpy().tobytes()
                if key not in feats:
                    feats[key] = self.g.warp_features(self.prewarp(iuv))
                window[RADIUS + o] = feats[key]
            code = structure_of(codes[t, self.offsets.index(0)][None], self.cfg.pose)
            prev, memory = self.g(self.style, code, prev, memory, window)
            outs.append(prev)
        fg = torch.cat(outs)
        centre = codes[:, self.offsets.index(0)]
        alpha = (iuv_of(centre)[:, :1] > 0).float()
        out = over_background(fg, alpha, inputs.background)
        return RenderOutput(output=out, fg=fg, alpha=alpha), (prev, memory)
