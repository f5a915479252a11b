"""DwNet at inference: one source picture, then driving frames rendered in order, each
conditioned on the previous generated frame (the first on the source itself [Eq. 2]).

The carried state is (previous frame, its IUV); frames are generated one at a time, so a
video rendered in chunks is bit for bit the video rendered in one chunk. DwNet generates
the whole picture (the source's background included); its alpha is the driving body's
coverage (IUV part > 0: the body model, no hair or loose clothes), which is what
``--alpha`` and ``--background`` use.
"""

from __future__ import annotations

from typing import Any

import torch

from ptx.methods.base import RenderInputs, RenderOutput
from ptx.methods.dwnet.grids import coarse_flow
from ptx.methods.dwnet.trainer import build_generator
from ptx.methods.oneshot import OneShotRenderer, over_background


class DwNetRenderer(OneShotRenderer):
    def build(self, cfg: Any) -> torch.nn.Module:
        return build_generator(cfg)

    def start(self) -> Any:
        self.require_source()
        return (self.source, self.source_iuv)

    @torch.no_grad()
    def __call__(self, inputs: RenderInputs, state: Any) -> tuple[RenderOutput, Any]:
        assert self.source is not None and self.source_iuv is not None
        prev, prev_iuv = state
        outs = []
        for t in range(inputs.pose.shape[0]):
            iuv = inputs.arrays["iuv"][t : t + 1]
            c_src = coarse_flow(self.source_iuv, iuv, self.cfg.coarse)
            c_prev = coarse_flow(prev_iuv, iuv, self.cfg.coarse)
            prev = self.g(self.source, c_src, prev, c_prev, inputs.pose[t : t + 1])
            prev_iuv = iuv
            outs.append(prev)
        fg = torch.cat(outs)
        alpha = (inputs.arrays["iuv"][:, :1] > 0).float()
        out = over_background(fg, alpha, inputs.background)  # the body: its IUV
        return RenderOutput(output=out, fg=fg, alpha=alpha), (prev, prev_iuv)
