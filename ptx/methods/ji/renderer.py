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
from ptx.nn.poselabels import unit


class JiRenderer:
    one_shot = True

    def __init__(self, cfg: Any, state: dict[str, Any], device: torch.device, frame) -> None:
        self.cfg, self.device, self.frame = cfg, device, tuple(frame)
        self.g = JiNet(cfg).to(device)
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
            raise ValueError("JiRenderer: set_source() before rendering")
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
        out = fg
        if inputs.background is not None:
            out = alpha * fg + (1 - alpha) * inputs.background
        return RenderOutput(output=out, fg=fg, alpha=alpha), state
