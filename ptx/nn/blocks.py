"""Small building blocks shared by the D2G networks (pix2pixHD-style conv stacks)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def norm_layer(channels: int, norm: str = "instance") -> nn.Module:
    """Instance normalisation with learnable scale and shift (pix2pixHD's; train and eval
    behave alike), or nothing (``norm`` none). Instance norm removes every channel's mean
    over the picture, so a network that must carry a picture's absolute colours through
    (a one-shot method copying a source it never saw) has to recover them from what little
    survives; without it they pass (the convs then get biases)."""
    if norm == "none":
        return nn.Identity()
    return nn.InstanceNorm2d(channels, affine=True)


def conv_norm_act(
    c_in: int, c_out: int, k: int, stride: int = 1, norm: str = "instance"
) -> nn.Sequential:
    """Reflection-padded conv -> instance norm (or none) -> ReLU."""
    pad = k // 2
    return nn.Sequential(
        nn.ReflectionPad2d(pad) if pad else nn.Identity(),
        nn.Conv2d(c_in, c_out, k, stride=stride, bias=norm == "none"),
        norm_layer(c_out, norm),
        nn.ReLU(inplace=True),
    )


def down(c_in: int, c_out: int, norm: str = "instance") -> nn.Sequential:
    """Stride-2 3x3 conv halving the resolution."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=norm == "none"),
        norm_layer(c_out, norm),
        nn.ReLU(inplace=True),
    )


class Up(nn.Module):
    """Nearest 2x upsampling then a 3x3 conv (no checkerboard artefacts of transposed convs)."""

    def __init__(self, c_in: int, c_out: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = conv_norm_act(c_in, c_out, 3, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class ResBlock(nn.Module):
    """Two 3x3 convs with instance norm (or none) and an identity skip."""

    def __init__(self, c: int, norm: str = "instance") -> None:
        super().__init__()
        bias = norm == "none"
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(c, c, 3, bias=bias),
            norm_layer(c, norm),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(c, c, 3, bias=bias),
            norm_layer(c, norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def widths(base: int, n_down: int, cap: int) -> list[int]:
    """Channel widths of an encoder: ``base * 2**i`` for i = 0..n_down, capped at ``cap``."""
    return [min(base * 2**i, cap) for i in range(n_down + 1)]


class EncoderDecoder(nn.Module):
    """pix2pixHD's global generator trunk: 7x7 stem, ``n_down`` stride-2 convs, ``n_res``
    residual blocks, ``n_down`` upsamplings. ``cond_channels`` > 0 concatenates a condition
    image (resized to the bottleneck) before the residual blocks.

    Input (B, c_in, H, W) with H, W divisible by 2**n_down; output (B, width, H, W).
    """

    def __init__(
        self, c_in: int, width: int, n_down: int, n_res: int, cap: int, cond_channels: int = 0
    ) -> None:
        super().__init__()
        w = widths(width, n_down, cap)
        self.n_down = n_down
        self.stem = conv_norm_act(c_in, w[0], 7)
        self.downs = nn.ModuleList(down(w[i], w[i + 1]) for i in range(n_down))
        self.cond_channels = cond_channels
        self.fuse = conv_norm_act(w[-1] + cond_channels, w[-1], 3) if cond_channels else None
        self.res = nn.Sequential(*(ResBlock(w[-1]) for _ in range(n_res)))
        self.ups = nn.ModuleList(Up(w[i + 1], w[i]) for i in reversed(range(n_down)))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.stem(x)
        for layer in self.downs:
            h = layer(h)
        if self.fuse is not None:
            if cond is None:
                raise ValueError("this network was built with a condition input; pass cond")
            c = F.interpolate(cond, size=h.shape[-2:], mode="area")
            h = self.fuse(torch.cat([h, c.to(h.dtype)], dim=1))
        h = self.res(h)
        for layer in self.ups:
            h = layer(h)
        return h
