"""Ji et al. at inference: one source picture, then driving IUV frames, each rendered on
its own (the method has no temporal state [002 §III]).

Frames are generated one at a time, so a video rendered in chunks is bit for bit the
video rendered in one chunk. The output is the whole frame (the source's background
included); its alpha is BlenderNet's predicted person mask [Eq. 9], which ``--alpha`` and
``--background`` use.
"""

from __future__ import annotations

from typing import Any

import torch

from ptx.methods.base import RenderInputs, RenderOutput
from ptx.methods.ji.model import JiNet
from ptx.methods.oneshot import OneShotRenderer, over_background


class JiRenderer(OneShotRenderer):
    def build(self, cfg: Any) -> torch.nn.Module:
        return JiNet(cfg)

    def start(self) -> Any:
        self.require_source()
        return None

    @torch.no_grad()
    def __call__(self, inputs: RenderInputs, state: Any) -> tuple[RenderOutput, Any]:
        assert self.source is not None and self.source_iuv is not None
        fgs, alphas = [], []
        for t in range(inputs.pose.shape[0]):
            r = self.g(self.source, self.source_iuv, inputs.arrays["iuv"][t : t + 1])
            fgs.append(r["out"].clamp(-1, 1))
            alphas.append(torch.sigmoid(r["out_mask"]))
        fg, alpha = torch.cat(fgs), torch.cat(alphas)
        out = over_background(fg, alpha, inputs.background)
        return RenderOutput(output=out, fg=fg, alpha=alpha), state
