"""Pose-label encodings: how a frame's conditions become network input channels.

Each encoding is a :class:`PoseEncoding` built here and declared by a method; training
and rendering call the same one, so the two can never disagree. Inputs are the prepared
arrays at the model size as uint8 (n, C, H, W) (and ``keypoints`` as float
(n, K, 3) in model pixels); outputs are float (n, channels, H, W) in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class PoseEncoding:
    """How one frame's conditions become network channels (used by training AND
    rendering, so the two can never disagree)."""

    arrays: tuple[str, ...]
    """Per-frame inputs it reads: prepared image arrays (uint8 (n, C, H, W) at the model
    size) and/or ``keypoints`` (float (n, K, 3) in model pixels)."""
    channels: int
    """Channels per frame it produces."""
    encode: Callable[[dict[str, torch.Tensor]], torch.Tensor]
    """inputs -> float (n, channels, H, W) in [-1, 1]."""

    def __call__(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encode(inputs)


IMAGE_CHANNELS = {"poselabel": 3, "label3d": 3, "iuv": 3, "frames": 3, "mask": 1}
"""Channels of the prepared image arrays an encoding can stack."""


def unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [-1, 1] (in place after the conversion: no extra buffers)."""
    return x.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)


def image_stack(names: tuple[str, ...]) -> PoseEncoding:
    """Prepared images stacked along channels, in ``names`` order (D2G-Net's pose label is
    ``("poselabel", "label3d")``: the skeleton image and the 3D label)."""
    unknown = [n for n in names if n not in IMAGE_CHANNELS]
    if unknown or not names:
        raise ValueError(f"image_stack: cannot stack {unknown or 'nothing'}")

    def encode(inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [inputs[n] for n in names]
        return unit(parts[0] if len(parts) == 1 else torch.cat(parts, dim=1))

    return PoseEncoding(tuple(names), sum(IMAGE_CHANNELS[n] for n in names), encode)
