"""LPIPS v0.1 (Zhang et al. 2018) on an AlexNet trunk, our own definition.

The distance between two images: both go through AlexNet's five ReLU stages; each stage's
activations are unit-normalised along channels, their squared difference is weighted per
channel by LPIPS's learnt linear layer (a 1x1 convolution, no bias), averaged over the
image and summed over the stages. Identical images score 0; the learnt weights are
non-negative, so every difference adds.

Two official files hold the weights, and parameter names follow them so they load as is:
- the AlexNet trunk ("one weird trick" variant, ``alexnet-owt-7be5be79.pth``):
  ``features.<i>.weight`` / ``.bias`` for the convolutions at indices 0, 3, 6, 8, 10 (its
  classifier is never used);
- LPIPS's linear layers (``alex.pth``, v0.1): ``lin<k>.model.1.weight``, float (1, C_k, 1, 1)
  for C = 64, 192, 384, 256, 256.
"""

from __future__ import annotations

import torch
from torch import nn

from ptx import weights

STAGE_ENDS = (2, 5, 8, 10, 12)
"""``features[:2]`` gives relu1, ``features[2:5]`` relu2, ... ``features[10:12]`` relu5."""
CHANNELS = (64, 192, 384, 256, 256)
"""Channels at relu1..relu5."""
CONV_INDICES = (0, 3, 6, 8, 10)
"""Where the convolutions sit in ``features`` (the official file's keys)."""

_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
"""LPIPS's input scaling: from [-1, 1] to roughly ImageNet-normalised values."""
_EPS = 1e-10
"""Added to the channel norm before dividing (LPIPS's value)."""


def alexnet_features() -> nn.Sequential:
    """AlexNet's convolution stack up to relu5, in the official file's index layout."""
    conv = nn.Conv2d
    return nn.Sequential(
        conv(3, 64, 11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        conv(64, 192, 5, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2),
        conv(192, 384, 3, padding=1),
        nn.ReLU(inplace=True),
        conv(384, 256, 3, padding=1),
        nn.ReLU(inplace=True),
        conv(256, 256, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class _Linear(nn.Module):
    """One stage's channel weights; ``model.1`` matches the official key (index 0 was a
    dropout layer, an identity at evaluation)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class LPIPS(nn.Module):
    """``forward(a, b float (B, 3, H, W) in [0, 1]) -> float (B,)`` distances.

    Frames of any size from 32x32 up (AlexNet's stride needs at least that); ``a`` and ``b``
    the same size. Frozen and in evaluation mode.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = alexnet_features()
        self.lins = nn.ModuleList(_Linear(c) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)
        self.eval().requires_grad_(False)

    def load_official(
        self, trunk: dict[str, torch.Tensor], linear: dict[str, torch.Tensor]
    ) -> None:
        """Copy the AlexNet file's convolutions and the LPIPS file's linear layers."""
        own = self.state_dict()
        wanted = {}
        for key, value in own.items():
            if key.startswith("features."):
                source, name, official = trunk, "AlexNet", key
            else:  # "lins.<k>.model.1.weight" is "lin<k>.model.1.weight" in alex.pth
                source, name, official = linear, "LPIPS", "lin" + key[len("lins.") :]
            if official not in source:
                raise ValueError(f"not the {name} state dict LPIPS needs (missing {official})")
            if tuple(source[official].shape) != tuple(value.shape):
                raise ValueError(
                    f"{official} has shape {tuple(source[official].shape)}, "
                    f"expected {tuple(value.shape)}"
                )
            wanted[key] = source[official]
        self.load_state_dict(wanted)

    def stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """relu1..relu5 of ``x`` float (B, 3, H, W) in [0, 1]."""
        h = (x * 2.0 - 1.0 - self.shift) / self.scale
        out = []
        start = 0
        for end in STAGE_ENDS:
            h = self.features[start:end](h)
            out.append(h)
            start = end
        return out

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if a.shape != b.shape or a.ndim != 4 or a.shape[1] != 3:
            raise ValueError(
                f"LPIPS wants two float (B, 3, H, W) batches of one shape, got "
                f"{tuple(a.shape)} and {tuple(b.shape)}"
            )
        total = a.new_zeros(a.shape[0])
        for lin, fa, fb in zip(self.lins, self.stages(a), self.stages(b), strict=True):
            na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + _EPS)
            nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + _EPS)
            total = total + lin((na - nb).pow(2)).mean(dim=(1, 2, 3))
        return total


def load_lpips() -> LPIPS:
    """LPIPS with the official weights (raises MissingWeightsError when a file is absent,
    InputError when one is not the official file, ValueError when its layout differs)."""
    net = LPIPS()
    net.load_official(weights.load_state_dict("alexnet"), weights.load_state_dict("lpips_alex"))
    return net
