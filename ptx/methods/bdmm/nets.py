"""BDMM's generator [003 §3, supp §1.1; widths and wiring from the authors' code where the
paper is silent, methods.md §(c)3].

- **Style encoder**: stride-2 blocks (conv 4x4, IN, LeakyReLU) from the source picture
  down to 4 px on the long side (6 blocks at 256 px, 4 at 64), widths ngf x 1, 2, 4, 8...
  capped at ``style_dim``; the deepest map average-pooled is the style vector.
- **Structural encoder**: 3 stride-2 blocks on [18 keypoint heatmaps ⊕ previous output]
  to 4 ngf @ 1/8, then the *recurrent structural flow*: a residual block on [current ⊕
  the previous frame's bottleneck], then a residual block.
- **Warp encoder** (shared by every frame of the window): 3 stride-2 blocks on each
  pre-warped source picture x_j; its ngf @ 1/2 and 2 ngf @ 1/4 maps feed the propagation.
- **Propagation** [Eq. 6-7]: at each of those levels, forward f_j = cell([F(x_j) ⊕ f_{j-1}])
  over the window's frames t-N..t from a zero state, backward b_j = cell([B(x_j) ⊕
  b_{j+1}]) over t+N..t; a cell is a residual block from 2c to c channels.
- **Decoder**: StyledConv up (4 ngf -> 2 ngf, 1/4), then forward DMM + backward DMM +
  a modulated conv, summed [§4.3: sum fusion]; StyledConv up (-> ngf, 1/2), the same trio;
  StyledConv up (-> ngf, full size), a modulated conv, ToRGB, tanh.

**Normalisation** (``norm``): the supplement's encoder figures and the authors' code put
instance norm (IN) after every conv of the encoders, the propagation cells and the style
encoder; ``norm=none`` (ptx's default, measured in ``config``) drops it there and gives
those convs biases. The StyleGAN2 layers of the decoder have no norm layer either way (their
weights are demodulated) and the critics keep theirs.

``direction`` forward or backward keeps one DMM per level (the ablations "w/o backward"
/ "w/o forward propagation"); ``dmm`` False replaces each DMM by a plain conv.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ptx.methods.bdmm.modulated import DMM, SLOPE, StyledConv, ToRGB


def norm_layer(c: int, norm: str) -> nn.Module:
    """Instance norm with scale and shift (``instance``) or nothing (``none``)."""
    return nn.Identity() if norm == "none" else nn.InstanceNorm2d(c, affine=True)


def block(c_in: int, c_out: int, k: int = 4, stride: int = 2,
          norm: str = "instance") -> nn.Sequential:  # fmt: skip
    """Conv (k, stride, padding 1) -> IN (or none; then the conv has a bias) -> LeakyReLU(0.2)."""
    pad = 1 if k in (3, 4) else k // 2
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride, pad, bias=norm == "none"),
        norm_layer(c_out, norm),
        nn.LeakyReLU(SLOPE, True),
    )


class ResCell(nn.Module):
    """Residual block from c_in to c_out (3x3, IN or none, LeakyReLU; a 1x1 skip when they
    differ)."""

    def __init__(self, c_in: int, c_out: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            block(c_in, c_out, 3, 1, norm),
            nn.Conv2d(c_out, c_out, 3, 1, 1, bias=norm == "none"), norm_layer(c_out, norm),
        )  # fmt: skip
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.skip(x) + self.body(x), SLOPE)


def style_blocks(size: int) -> int:
    """Stride-2 blocks taking the long side ``size`` to 4 px (at least 1)."""
    return max(1, int(round(math.log2(max(size, 8) / 4))))


class StyleEncoder(nn.Module):
    def __init__(self, ngf: int, style_dim: int, size: int, norm: str = "instance") -> None:
        super().__init__()
        layers, c = [], 3
        for i in range(style_blocks(size)):
            c_out = min(ngf * 2**i, style_dim)
            layers.append(block(c, c_out, norm=norm))
            c = c_out
        self.body = nn.Sequential(*layers)
        self.out = nn.Identity() if c == style_dim else nn.Linear(c, style_dim)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(source).mean(dim=(2, 3)))


class Generator(nn.Module):
    def __init__(self, ngf: int, style_dim: int, size: int, pose_channels: int = 18,
                 direction: str = "both", dmm: bool = True,
                 norm: str = "instance") -> None:  # fmt: skip
        super().__init__()
        c1, c2, c3 = ngf, 2 * ngf, 4 * ngf
        self.direction = direction
        self.style = StyleEncoder(ngf, style_dim, size, norm)
        self.structure = nn.Sequential(
            block(pose_channels + 3, c1, norm=norm), block(c1, c2, norm=norm),
            block(c2, c3, norm=norm),
        )  # fmt: skip
        self.recurrent = ResCell(2 * c3, c3, norm)
        self.structure_out = ResCell(c3, c3, norm)
        self.warp = nn.ModuleList(
            [block(3, c1, norm=norm), block(c1, c2, norm=norm), block(c2, c3, norm=norm)]
        )
        dirs = self.directions
        self.cells = nn.ModuleDict({
            f"{d}{lvl}": ResCell(2 * c, c, norm) for d in dirs for lvl, c in ((1, c2), (2, c1))
        })  # fmt: skip
        self.dmm = nn.ModuleDict({
            f"{d}{lvl}": DMM(c, style_dim, dmm) for d in dirs for lvl, c in ((1, c2), (2, c1))
        })  # fmt: skip
        self.up1 = StyledConv(c3, c2, style_dim, up=True)
        self.mix1 = StyledConv(c2, c2, style_dim)
        self.up2 = StyledConv(c2, c1, style_dim, up=True)
        self.mix2 = StyledConv(c1, c1, style_dim)
        self.up3 = StyledConv(c1, c1, style_dim, up=True)
        self.last = StyledConv(c1, c1, style_dim)
        self.rgb = ToRGB(c1, style_dim)
        for m in self.modules():  # the authors' code initialises orthogonally
            if isinstance(m, nn.Conv2d) and m.weight.abs().sum() > 0:
                nn.init.orthogonal_(m.weight)

    @property
    def directions(self) -> tuple[str, ...]:
        return {"both": ("f", "b"), "forward": ("f",), "backward": ("b",)}[self.direction]

    def warp_features(self, warped: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pre-warped pictures (n, 3, H, W) -> their (2 ngf @ 1/4, ngf @ 1/2) maps."""
        h1 = self.warp[0](warped)
        h2 = self.warp[1](h1)
        return h2, h1

    def propagate(self, feats: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The window's warp features (2N + 1 frames, the output's in the middle) -> the
        forward and backward states at the middle frame, per level ({"f1": ..., "b2": ...})."""
        mid = len(feats) // 2
        out = {}
        for d in self.directions:
            order = range(mid + 1) if d == "f" else range(len(feats) - 1, mid - 1, -1)
            for lvl in (1, 2):
                cell, state = self.cells[f"{d}{lvl}"], None
                for j in order:
                    x = feats[j][lvl - 1]
                    state = cell(torch.cat([x, torch.zeros_like(x) if state is None else state], 1))
                out[f"{d}{lvl}"] = state
        return out

    def structural(self, pose: torch.Tensor, previous: torch.Tensor,
                   memory: torch.Tensor | None) -> torch.Tensor:  # fmt: skip
        """[heatmaps ⊕ previous output] and the previous bottleneck -> this bottleneck."""
        s = self.structure(torch.cat([pose, previous], 1))
        s = self.recurrent(torch.cat([s, torch.zeros_like(s) if memory is None else memory], 1))
        return self.structure_out(s)

    def decode(self, s: torch.Tensor, states: dict[str, torch.Tensor], style: torch.Tensor):
        h = self.up1(s, style)
        h = self.mix1(h, style) + sum(self.dmm[f"{d}1"](h, states[f"{d}1"], style)
                                      for d in self.directions)  # fmt: skip
        h = self.up2(h, style)
        h = self.mix2(h, style) + sum(self.dmm[f"{d}2"](h, states[f"{d}2"], style)
                                      for d in self.directions)  # fmt: skip
        h = self.last(self.up3(h, style), style)
        return torch.tanh(self.rgb(h, style))

    def forward(self, style: torch.Tensor, pose: torch.Tensor, previous: torch.Tensor,
                memory: torch.Tensor | None, feats: list[tuple[torch.Tensor, torch.Tensor]]):  # fmt: skip
        """One output frame per sample: ``style`` (n, S) of the source, ``pose`` its 18
        heatmaps, ``previous`` the previous output (the source for the first frame),
        ``memory`` the previous bottleneck (None: zeros), ``feats`` the window's warp
        features. Returns (frame (n, 3, H, W) in [-1, 1], this bottleneck)."""
        s = self.structural(pose, previous, memory)
        return self.decode(s, self.propagate(feats), style), s
