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
from ptx.nn.poselabels import unit


class DwNetRenderer:
    one_shot = True

    def __init__(self, cfg: Any, state: dict[str, Any], device: torch.device, frame) -> None:
        self.cfg, self.device, self.frame = cfg, device, tuple(frame)
        self.g = build_generator(cfg).to(device)
        self.g.load_state_dict(state["g"])
        self.g.eval()
        self.source: torch.Tensor | None = None
        self.source_iuv: torch.Tensor | None = None

    def set_source(self, frame: torch.Tensor, iuv: torch.Tensor) -> None:
        """The picture to animate: uint8 (3, H, W) frame and IUV at the model's frame."""
        self.source = unit(frame[None].to(self.device))
        self.source_iuv = iuv[None].to(self.device)

    def start(self) -> Any:
        if self.source is None:
            raise ValueError("DwNetRenderer: set_source() before rendering")
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
        out = fg
        if inputs.background is not None:  # the body (its IUV) over the given picture
            out = alpha * fg + (1 - alpha) * inputs.background
        return RenderOutput(output=out, fg=fg, alpha=alpha), (prev, prev_iuv)
