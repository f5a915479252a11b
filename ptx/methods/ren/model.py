"""Ren et al.'s generators and :class:`RenInference`, its renderer.

- G1 (Pose2Video): pix2pixHD's global generator on the limb maps of frames t-K..t+K
  stacked (``(2K + 1) * 24`` channels).
- G2 (texture refinement): the same network on G1's outputs at t-K..t+K, each composited
  over the solid training background (``(2K + 1) * 3`` channels, the paper's 15).
- Both output 4 channels: the person's colour (3) and opacity (1, tanh mapped to [0, 1]).
  The picture a stage makes is ``colour * alpha + solid * (1 - alpha)`` (the paper's
  foreground on a green screen); compositing over any other background uses the same
  colour and alpha, so no screen colour leaks into the edges.
- With ``g2_residual`` G2's output is added to G1's at t (raw, before the alpha mapping)
  and clamped, and G2's last convolution starts at a tenth of pix2pixHD's initial scale.

Rendering is frame by frame with no carried state: the window's lookahead (K frames, 2K
with stage 2) comes from the streaming renderer across chunk boundaries, and frames past a
sequence's ends repeat the nearest frame (as the shared window machinery pads them).
Without ``--background`` the person is composited over the video's prepared background
plate (the ``background`` stage's), which the trainer saves with the networks.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ptx.methods.base import RenderInputs, RenderOutput
from ptx.methods.ren.config import solid_rgb
from ptx.methods.ren.poses import limb_channels
from ptx.nn.pix2pixhd import GlobalGenerator, pix2pixhd_init


def g1_offsets(cfg: Any) -> tuple[int, ...]:
    """The frames (relative to t) G1 sees: t-K..t+K, or t-2K..t when ``causal``."""
    k = cfg.window_k
    return tuple(range(-2 * k, 1)) if cfg.causal else tuple(range(-k, k + 1))


class RenNets(nn.Module):
    """G1, G2 (when ``stage2``) and the per-video background plates (a buffer)."""

    def __init__(self, cfg: Any, n_videos: int, frame: tuple[int, int]) -> None:
        super().__init__()
        self.cfg = cfg
        n = len(g1_offsets(cfg))
        self.g1 = pix2pixhd_init(
            GlobalGenerator(n * limb_channels(), 4, cfg.width, cfg.n_down, cfg.n_res)
        )
        self.g2: GlobalGenerator | None = None
        if cfg.stage2:
            self.g2 = pix2pixhd_init(GlobalGenerator(n * 3, 4, cfg.width, cfg.n_down, cfg.n_res))
            if cfg.g2_residual:
                with torch.no_grad():
                    self.g2.head[1].weight.mul_(0.1)
        self.register_buffer("plates", torch.zeros(n_videos, 3, *frame))
        self.register_buffer("solid", torch.tensor(solid_rgb(cfg)).view(1, 3, 1, 1))

    def picture(self, raw: torch.Tensor) -> torch.Tensor:
        """4-channel raw output -> the picture over the solid background (B, 3, H, W)."""
        colour, alpha = raw[:, :3].float(), alpha_of(raw)
        return colour * alpha + self.solid * (1.0 - alpha)

    def stage1(self, window: torch.Tensor) -> torch.Tensor:
        """Limb-map windows (B, n * 24, H, W) -> G1's raw output (B, 4, H, W)."""
        return self.g1(window)

    def stage2(self, pictures: torch.Tensor, centre_raw: torch.Tensor) -> torch.Tensor:
        """G1 pictures at t-K..t+K stacked (B, n * 3, H, W) and G1's raw output at t ->
        G2's raw output (B, 4, H, W)."""
        out = self.g2(pictures)
        if self.cfg.g2_residual:
            out = (centre_raw.to(out.dtype) + out).clamp(-1.0, 1.0)
        return out

    def forward_window(self, pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The renderer's window of limb maps (B, len(offsets) * 24, H, W) -> (final raw
        output, G1's raw output at t or None without stage 2)."""
        c = limb_channels()
        if self.g2 is None:
            return self.stage1(pose), None
        k, n, b = self.cfg.window_k, len(g1_offsets(self.cfg)), len(pose)
        # the renderer's window is t-2K..t+2K; G1's window at t+j is blocks j+K..j+3K
        subs = [pose[:, (j + k) * c : (j + k + n) * c] for j in range(-k, k + 1)]
        raw1 = self.stage1(torch.cat(subs))
        pics = self.picture(raw1).view(n, b, 3, *pose.shape[-2:])
        stack = pics.permute(1, 0, 2, 3, 4).reshape(b, n * 3, *pose.shape[-2:])
        centre = raw1[k * b : (k + 1) * b]
        return self.stage2(stack, centre), centre


def alpha_of(raw: torch.Tensor) -> torch.Tensor:
    """The opacity (B, 1, H, W) in [0, 1] of a raw 4-channel output."""
    return (raw[:, 3:4].float() + 1.0) * 0.5


class RenInference:
    """Ren et al.'s renderer: the final stage's colour and alpha, composited over
    ``--background`` or the video's background plate."""

    def __init__(
        self, cfg: Any, state: dict[str, Any], device: torch.device, frame: tuple[int, int]
    ) -> None:
        weights = state["nets"]
        self.nets = RenNets(cfg, int(weights["plates"].shape[0]), frame)
        self.nets.load_state_dict(weights)
        self.nets.to(device).eval()

    def start(self) -> None:
        return None

    @torch.no_grad()
    def __call__(self, x: RenderInputs, state: None) -> tuple[RenderOutput, None]:
        raw, _ = self.nets.forward_window(x.pose)
        colour, alpha = raw[:, :3].float().clamp(-1, 1), alpha_of(raw)
        if x.background is not None:
            bg = x.background.float().expand(len(raw), -1, -1, -1)
        else:
            plates = self.nets.plates
            bg = plates[x.video.to(plates.device).clamp(0, len(plates) - 1)]
        return RenderOutput(colour * alpha + bg * (1.0 - alpha), colour, alpha), None
