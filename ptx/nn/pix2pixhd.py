"""pix2pixHD's generators (Wang et al., CVPR 2018), as Everybody Dance Now uses them.

- :class:`GlobalGenerator` (``netG global``): 7x7 conv, ``n_down`` stride-2 3x3 convs
  doubling the channels, ``n_res`` residual blocks, ``n_down`` stride-2 transposed 3x3
  convs halving them, 7x7 conv, tanh. Instance norm without affine parameters, reflection
  padding, ReLU; convolutions keep their biases. These are pix2pixHD's defaults.
- :class:`LocalEnhancer` (``netG local``, one enhancer): a global generator of twice the
  width runs on the input average-pooled to half resolution; its last features (before
  its 7x7 head) are added to the local branch's stride-2 features, then ``n_res_local``
  residual blocks, a transposed conv back to full resolution and a 7x7 head with tanh.
  Trained the pix2pixHD way: the global generator first on half-resolution frames (its own
  head), then the whole at full resolution.

Every network here reads H and W from its input (never assumes a square); H and W must be
divisible by 2 ** (number of stride-2 layers), which :func:`multiple` gives.
"""

from __future__ import annotations

import torch
from torch import nn


def norm(channels: int) -> nn.Module:
    """pix2pixHD's instance norm (no affine parameters, no running statistics)."""
    return nn.InstanceNorm2d(channels, affine=False)


class ResnetBlock(nn.Module):
    """pix2pixHD's residual block: (reflection pad, 3x3 conv, norm, ReLU) twice (no ReLU
    after the second), plus the identity."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), norm(c),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _head(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(3), nn.Conv2d(c_in, c_out, 7), nn.Tanh())


def _up(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(c_in, c_out, 3, 2, 1, output_padding=1), norm(c_out), nn.ReLU(True)]


class GlobalGenerator(nn.Module):
    """``forward(x (B, c_in, H, W)) -> (B, c_out, H, W)`` in [-1, 1]; ``features(x)`` is
    the output before the 7x7 head: (B, width, H, W)."""

    def __init__(self, c_in: int, c_out: int, width: int, n_down: int, n_res: int) -> None:
        super().__init__()
        self.n_down = n_down
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(c_in, width, 7), norm(width), nn.ReLU(True)
        ]  # fmt: skip
        for i in range(n_down):
            c = width * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, 2, 1), norm(2 * c), nn.ReLU(True)]
        c = width * 2**n_down
        layers += [ResnetBlock(c) for _ in range(n_res)]
        for i in range(n_down):
            c = width * 2 ** (n_down - i)
            layers += _up(c, c // 2)
        self.body = nn.Sequential(*layers)
        self.head = _head(width, c_out)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def half(x: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's input pyramid step: 3x3 average pooling, stride 2, padding 1, borders
    not counted (also how the multi-scale discriminator sees coarser scales)."""
    return nn.functional.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)


class LocalEnhancer(nn.Module):
    """``forward(x (B, c_in, H, W)) -> (B, c_out, H, W)``; ``global_net`` (width
    ``2 * width``) works at H/2 x W/2 and can be trained alone first."""

    def __init__(
        self, c_in: int, c_out: int, width: int, n_down: int, n_res: int, n_res_local: int = 3
    ) -> None:
        super().__init__()
        self.global_net = GlobalGenerator(c_in, c_out, 2 * width, n_down, n_res)
        self.down = nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(c_in, width, 7), norm(width), nn.ReLU(True),
            nn.Conv2d(width, 2 * width, 3, 2, 1), norm(2 * width), nn.ReLU(True),
        )  # fmt: skip
        self.up = nn.Sequential(
            *(ResnetBlock(2 * width) for _ in range(n_res_local)),
            *_up(2 * width, width),
            *_head(width, c_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x) + self.global_net.features(half(x)))


def pix2pixhd_init(module: nn.Module) -> nn.Module:
    """pix2pixHD's initialisation of every (transposed) convolution: weights N(0, 0.02),
    biases kept; batch norm scales N(1, 0.02), shifts 0. Draws from torch's global
    generator. Returns ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


def multiple(n_down: int, local: bool = False) -> int:
    """What H and W must be divisible by."""
    return 2 ** (n_down + (1 if local else 0))
