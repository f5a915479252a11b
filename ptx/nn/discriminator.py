"""Multi-scale conditional PatchGAN discriminator (pix2pixHD's).

Each scale sees (pose label, image) concatenated; scale s sees the input average-pooled
s times. The image may have more than 3 channels (Everybody Dance Now's discriminator sees
two consecutive frames, with their two pose labels, at once). Every scale returns the list of its layers' activations, the last one being the
patch logits, so the generator can also be trained by feature matching.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class PatchDiscriminator(nn.Module):
    """One scale: 4x4 convs, ``n_layers`` stride-2 ones, then two stride-1 ones."""

    def __init__(self, c_in: int, width: int, n_layers: int, cap: int = 512) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(c_in, width, 4, 2, 2), nn.LeakyReLU(0.2, inplace=True))
        ]
        c = width
        for i in range(1, n_layers + 1):
            c_out = min(width * 2**i, cap)
            stride = 2 if i < n_layers else 1
            layers.append(
                nn.Sequential(
                    nn.Conv2d(c, c_out, 4, stride, 2),
                    nn.InstanceNorm2d(c_out, affine=True),
                    nn.LeakyReLU(0.2, inplace=True),
                )
            )
            c = c_out
        layers.append(nn.Conv2d(c, 1, 4, 1, 2))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for layer in self.layers:
            x = layer(x)
            feats.append(x)
        return feats


class MultiScaleDiscriminator(nn.Module):
    """``forward(pose (B, C_pose, H, W), image (B, C_image, H, W)) -> [scale][layer]
    tensors`` (``C_image`` = ``image_channels``, 3 by default)."""

    def __init__(
        self,
        pose_channels: int,
        width: int,
        n_layers: int,
        n_scales: int,
        cap: int = 512,
        image_channels: int = 3,
    ) -> None:
        super().__init__()
        c_in = pose_channels + image_channels
        self.scales = nn.ModuleList(
            PatchDiscriminator(c_in, width, n_layers, cap) for _ in range(n_scales)
        )

    def forward(self, pose: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([pose, image.to(pose.dtype)], dim=1)
        out = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            out.append(d(x))
        return out
