"""DwNet's generator [DwNet §3.1, Fig. 2; §4.3].

- Coarse warp grids W[P(s) -> P(d)] come from the IUV images (``grids.coarse_flow``), in
  ptx's flow convention (``ptx.nn.warp``: driving pixel p shows the source at
  ``p + flow[p]``); off the body the flow is 0 (the identity).
- An appearance encoder A (7x7 conv + ``downs`` stride-2 convs, the paper's 2; shared by
  the source and the previous frame, as in the released code) and a pose encoder E of the
  same shape on the driving IUV. The paper warps 64 x 64 features of 256-px frames; the
  presets keep that size (``downs`` 0 at 64 px, 1 at 128, 2 at 256: see the config).
- The refine branch R [Eq. 1] sees [driving IUV, the picture warped by the coarse grid,
  the coarse grid's relative shifts W - I (in units of half the frame, so [-1, 1] spans
  it)], 8 channels, through a 7x7 conv, ``downs`` stride-2 convs, ``refine_blocks`` ResNet
  blocks and a 1x1 conv to 2 channels that starts at zero: the refined grid starts as the
  coarse grid, downsampled (area) to the features' resolution [§3.1: "good
  initialization"].
- Where R's correction applies (``refine_region``, our choice; the paper is silent): on the
  driving body grown a little (``body``, the default here and in the config), the
  background keeping the coarse grid (the identity there), or ``everywhere`` (what ptx did
  before). Applied everywhere, the learned correction moved the static background the
  source shows exactly (measured: the config's docstring).
- The decoder: [E(P(d)), A(s) warped, A(previous) warped] -> 1x1 conv -> ``n_blocks``
  ResNet blocks -> ``downs`` stride-2 transposed convs -> 7x7 conv -> tanh.
Features are warped bilinearly with border padding (the released code pads by reflection).
Layers are not normalised by default (``norm``; the released code uses pix2pixHD's
instance norm, the paper does not say): see ``ptx.nn.blocks.norm_layer`` and the config.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ptx.nn.blocks import ResBlock, conv_norm_act, down, norm_layer
from ptx.nn.warp import warp_backward


def downsampling(ngf: int, downs: int, norm: str) -> list[nn.Module]:
    """``downs`` stride-2 convs from ``ngf`` channels, each doubling the width."""
    return [down(ngf * 2**k, ngf * 2 ** (k + 1), norm) for k in range(downs)]


class Encoder(nn.Module):
    """7x7 conv + ``downs`` stride-2 convs (the paper: 2):
    (n, c_in, H, W) -> (n, ngf 2^downs, H / 2^downs, W / 2^downs)."""

    def __init__(self, c_in: int, ngf: int, downs: int = 2, norm: str = "none") -> None:
        super().__init__()
        self.body = nn.Sequential(
            conv_norm_act(c_in, ngf, 7, norm=norm), *downsampling(ngf, downs, norm)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Refine(nn.Module):
    """R: the correction of a coarse grid, at the features' resolution, in their pixels."""

    def __init__(self, ngf: int, blocks: int, downs: int = 2, norm: str = "none") -> None:
        super().__init__()
        c = ngf * 2**downs
        self.body = nn.Sequential(
            conv_norm_act(8, ngf, 7, norm=norm),
            *downsampling(ngf, downs, norm),
            *(ResBlock(c, norm) for _ in range(blocks)),
        )
        self.out = nn.Conv2d(c, 2, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(x))


def relative(flow: torch.Tensor) -> torch.Tensor:
    """Flow in pixels -> shifts in units of half the frame (W - I of the paper)."""
    h, w = flow.shape[-2:]
    return flow * flow.new_tensor([2.0 / w, 2.0 / h]).view(1, 2, 1, 1)


def down_flow(flow: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """A full-resolution flow (pixels) at 1/``factor`` resolution (its pixels)."""
    if factor == 1:
        return flow
    h, w = flow.shape[-2:]
    return F.interpolate(flow, size=(h // factor, w // factor), mode="area") / factor


def body_region(pose: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(n, 1, h, w) float: 1 where the driving ``pose`` (IUV in [-1, 1], part channel
    first; background -1) shows the body at the features' ``size`` (h, w), grown by 1/32 of
    their long side (at least one pixel: loose clothing and hair lie just outside the
    fitted body), 0 elsewhere."""
    on = (pose[:, :1] > -0.99).float()
    if on.shape[-2:] != tuple(size):
        on = F.adaptive_max_pool2d(on, size)
    grow = max(1, round(max(size) / 32))
    return F.max_pool2d(on, 2 * grow + 1, 1, grow)


class Generator(nn.Module):
    def __init__(
        self,
        ngf: int,
        n_blocks: int,
        refine_blocks: int,
        refine: bool,
        previous: bool,
        downs: int = 2,
        norm: str = "none",
        refine_region: str = "body",
    ):
        super().__init__()
        c = ngf * 2**downs
        bias = norm == "none"
        self.previous, self.factor = previous, 2**downs
        self.refine_region = refine_region
        self.appearance = Encoder(3, ngf, downs, norm)
        self.pose = Encoder(3, ngf, downs, norm)
        self.refine = Refine(ngf, refine_blocks, downs, norm) if refine else None
        self.fuse = nn.Sequential(
            nn.Conv2d(c * (3 if previous else 2), c, 1, bias=bias),
            norm_layer(c, norm),
            nn.ReLU(True),
        )
        self.blocks = nn.Sequential(*(ResBlock(c, norm) for _ in range(n_blocks)))
        ups: list[nn.Module] = []
        for k in reversed(range(downs)):
            c_in, c_out = ngf * 2 ** (k + 1), ngf * 2**k
            ups += [
                nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1, bias=bias),
                norm_layer(c_out, norm),
                nn.ReLU(True),
            ]
        self.up = nn.Sequential(*ups)
        self.out = nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh())
        for m in self.modules():  # pix2pixHD's initialisation, N(0, 0.02); R's last conv stays 0
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d) and m is not getattr(
                self.refine, "out", None
            ):
                nn.init.normal_(m.weight, 0.0, 0.02)
        # Without a norm, this shrinks the signal ~4x per layer and the untrained picture is
        # one flat colour; it learned as fast as torch's default initialisation in a one-off
        # check with bench_dwnet_norm.py's set-up (no norm, downs 0: held-out PSNR 24.3 /
        # 25.7 / 26.1 dB after 250 / 500 / 750 L1 steps against 24.7 / 25.4 / 26.0), so the
        # released code's initialisation stays.

    def grid(
        self,
        image: torch.Tensor,
        coarse: torch.Tensor,
        pose: torch.Tensor,
        region: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The refined grid (flow at the features' resolution, in their pixels) of
        ``image`` for the driving ``pose`` (float IUV in [-1, 1]), from the coarse
        full-resolution flow. ``region``: ``body_region(pose, ...)`` at the features'
        size when the caller has it (one pose, two grids), else computed here."""
        small = down_flow(coarse, self.factor)
        if self.refine is None:
            return small
        warped, _ = warp_backward(image, coarse)
        correction = self.refine(torch.cat([pose, warped, relative(coarse)], 1))
        if self.refine_region == "body":
            if region is None:
                region = body_region(pose, small.shape[-2:])
            correction = correction * region
        return small + correction

    def forward(
        self,
        source: torch.Tensor,
        coarse_source: torch.Tensor,
        previous: torch.Tensor | None,
        coarse_previous: torch.Tensor | None,
        pose: torch.Tensor,
    ) -> torch.Tensor:
        """``source`` / ``previous``: float (n, 3, H, W) in [-1, 1]; ``coarse_*``: their
        coarse flows from the driving frame (n, 2, H, W) pixels; ``pose``: the driving IUV
        (n, 3, H, W) in [-1, 1]. Returns the frame (n, 3, H, W) in [-1, 1]."""
        parts = [self.pose(pose)]
        inputs = [(source, coarse_source)]
        if self.previous:
            inputs.append((previous, coarse_previous))
        region = None  # the driving pose's body region, shared by both grids
        if self.refine is not None and self.refine_region == "body":
            h, w = pose.shape[-2:]
            region = body_region(pose, (h // self.factor, w // self.factor))
        for image, coarse in inputs:
            grid = self.grid(image, coarse, pose, region)
            feat, _ = warp_backward(self.appearance(image), grid)
            parts.append(feat)
        h = self.blocks(self.fuse(torch.cat(parts, 1)))
        return self.out(self.up(h))
