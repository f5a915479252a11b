"""Everybody Dance Now's networks and :class:`EDNInference`, its renderer.

- :class:`EDNGenerator`: pix2pixHD's global generator (or local enhancer) on the pose label
  of frame t concatenated with the previous generated frame (3 + 3 channels; zeros before
  the first frame). It generates the whole frame, background included.
- :class:`FaceRefiner`: the face GAN's generator, a small global generator that takes the
  face crop of the pose label and of the generated frame (3 + 3 channels) and outputs a
  residual (tanh) added to that crop.

Rendering goes frame by frame, each frame seeing the previous final frame (face refined);
the last one is the state carried into the next batch, so rendering a sequence in chunks
equals rendering it at once.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ptx.errors import InputError
from ptx.methods.base import RenderInputs, RenderOutput
from ptx.nn.face import crop, face_boxes, paste_residual
from ptx.nn.pix2pixhd import GlobalGenerator, LocalEnhancer

LABEL = 3
"""Channels of the pose label (the skeleton image)."""


class EDNGenerator(nn.Module):
    """``forward(label (B, 3, H, W), previous (B, 3, H, W)) -> frame (B, 3, H, W)``."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        c_in = LABEL + 3
        if cfg.local_enhancer:
            self.net: nn.Module = LocalEnhancer(
                c_in, 3, cfg.width, cfg.n_down, cfg.n_res, cfg.n_res_local
            )
        else:
            self.net = GlobalGenerator(c_in, 3, cfg.width, cfg.n_down, cfg.n_res)
        self.local = bool(cfg.local_enhancer)

    def forward(self, label: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([label, previous.to(label.dtype)], dim=1))

    def forward_global(self, label: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """The local enhancer's global part alone, on half-resolution inputs (its phase)."""
        return self.net.global_net(torch.cat([label, previous.to(label.dtype)], dim=1))


class FaceRefiner(nn.Module):
    """The face GAN's generator and the face boxes it works in."""

    def __init__(self, cfg: Any, side: int) -> None:
        super().__init__()
        self.side = side
        self.net = GlobalGenerator(LABEL + 3, 3, cfg.face_width, cfg.face_down, cfg.face_res)

    def boxes(self, keypoints: torch.Tensor, height: int, width: int):
        """(top-left corners (B, 2), found (B,)) of the face boxes of ``keypoints``."""
        return face_boxes(keypoints, self.side, height, width)

    def forward(
        self, frame: torch.Tensor, label: torch.Tensor, boxes: torch.Tensor, found: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(the frame with its face crop refined, the refined crop (B, 3, side, side))."""
        face = crop(frame, boxes, self.side)
        residual = self.net(torch.cat([crop(label, boxes, self.side), face], dim=1))
        return paste_residual(frame, residual, boxes, found), face + residual


class EDNInference:
    """EDN's renderer: frames in order, each conditioned on the previous output."""

    def __init__(self, cfg: Any, state: dict[str, Any], device: torch.device) -> None:
        self.cfg = cfg
        self.G = EDNGenerator(cfg)
        self.G.load_state_dict(state["generator"])
        self.G.to(device).eval()
        self.face: FaceRefiner | None = None
        if cfg.face_gan:
            from ptx.methods.edn.config import face_crop_side

            self.face = FaceRefiner(cfg, face_crop_side(cfg))
            self.face.load_state_dict(state["face_generator"])
            self.face.to(device).eval()

    def start(self) -> None:
        return None

    def __call__(
        self, x: RenderInputs, previous: torch.Tensor | None
    ) -> tuple[RenderOutput, torch.Tensor]:
        if x.background is not None:
            raise InputError(
                "edn generates whole frames (background included): it cannot composite over "
                "another background.",
                "Leave --background out, or use a method with a learned person mask (d2g, tna).",
            )
        outs = []
        h, w = x.pose.shape[-2:]
        for i in range(len(x.pose)):
            label = x.pose[i : i + 1]
            prev = torch.zeros_like(label[:, :3]) if previous is None else previous
            frame = self.G(label, prev).float()
            if self.face is not None:
                boxes, found = self.face.boxes(x.arrays["keypoints"][i : i + 1], h, w)
                frame, _ = self.face(frame, label, boxes, found)
            outs.append(frame)
            previous = frame
        out = torch.cat(outs)
        return RenderOutput(out, out, torch.ones_like(out[:, :1])), previous
