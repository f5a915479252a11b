"""D2G-Net's own losses, by the names its trainer uses: the UV generator's supervision
against the body-model IUV and the person-probability mask loss (both shared with other
methods, in ``ptx.nn``; the GAN, feature-matching and temporal losses are in
``ptx.nn.losses``)."""

from __future__ import annotations

from ptx.nn.losses import mask_loss
from ptx.nn.uv_generator import uv_losses

__all__ = ["mask_loss", "uv_losses"]
