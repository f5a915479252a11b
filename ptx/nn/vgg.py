"""VGG-19 (Simonyan & Zisserman 2015), our own definition, for the perceptual loss.

The convolution stack keeps the parameter names of the official PyTorch file
(``features.<i>.weight``) so ``vgg19-dcbb9e9d.pth`` loads directly; only the layers up to
relu5_1 are built (the classifier is never used).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ptx import weights

_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)
"""VGG-19's layers up to conv5_1 ("M" = 2x2 max pooling)."""

TAPS = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29}
"""Index in ``features`` of the activations the perceptual loss compares."""

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """``forward(x float (B, 3, H, W) in [-1, 1]) -> [relu1_1, ..., relu5_1]``."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for item in _LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                c = int(item)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def load_official(self, state: dict[str, torch.Tensor]) -> None:
        """Copy the convolution weights from the official state dict."""
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise ValueError(f"not a VGG-19 state dict (missing {missing[0]})")
        self.load_state_dict({k: state[k] for k in own})

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = ((x + 1.0) * 0.5 - self.mean) / self.std
        out = []
        last = max(TAPS.values())
        taps = set(TAPS.values())
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in taps:
                out.append(h)
            if i == last:
                break
        return out


class VGGLoss(nn.Module):
    """pix2pixHD's perceptual loss: weighted L1 between VGG-19 activations (frozen)."""

    LAYER_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)

    def __init__(self, net: VGG19Features) -> None:
        super().__init__()
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``x``, ``y``: float (B, 3, H, W) in [-1, 1]; ``y`` is the target."""
        fx = self.net(x)
        with torch.no_grad():
            fy = self.net(y)
        loss = x.new_zeros(())
        for w, a, b in zip(self.LAYER_WEIGHTS, fx, fy, strict=True):
            loss = loss + w * F.l1_loss(a, b)
        return loss


def load_vgg_loss() -> VGGLoss:
    """The perceptual loss with the official weights (raises MissingWeightsError when the
    file is absent, InputError when it is not the official one)."""
    net = VGG19Features()
    net.load_official(weights.load_state_dict("vgg19"))
    return VGGLoss(net)
