"""LPIPS and FID: metrics that need pretrained networks no installed package carries.

Their weights are looked up in the weights directory through :mod:`ptx.weights`; ptx never
downloads them. When a file is absent (or ptx does not know it yet, or its hash differs),
the score is ``None`` with a one-line reason, which ``ptx score`` shows in its table and
writes as ``null`` in its JSON: never a silent skip.

- LPIPS (Zhang et al. 2018, v0.1, AlexNet trunk): needs the AlexNet ImageNet weights
  (:data:`LPIPS_KEYS` ``alexnet``) and LPIPS's linear calibration layers (``lpips_alex``).
- FID (Heusel et al. 2017): needs the InceptionV3 port of TensorFlow's 2015-12-05 graph
  used by pytorch-fid (:data:`FID_KEYS` ``inception_fid``). FID compares two sets of
  frames, so it also needs at least :data:`FID_MIN_FRAMES` of each.

The network definitions themselves are a later step: with every file present the score is
still ``None``, with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ptx import weights
from ptx.errors import PtxError
from ptx.metrics._arrays import ArrayLike

LPIPS_KEYS = ("alexnet", "lpips_alex")
"""ptx.weights keys LPIPS needs: the AlexNet trunk and LPIPS v0.1's linear layers."""
FID_KEYS = ("inception_fid",)
"""ptx.weights keys FID needs: pytorch-fid's InceptionV3 (pt_inception-2015-12-05)."""
FID_MIN_FRAMES = 2
"""Fewest frames per set for which a covariance, and so FID, exists."""


@dataclass(frozen=True)
class OptionalScore:
    """A metric value, or None with the reason it could not be measured."""

    value: float | None
    """The sequence's value (None when unavailable)."""
    reason: str | None = None
    """One line saying why ``value`` is None (what is missing and what to do)."""
    per_frame: np.ndarray | None = None
    """float64 (T,) per-frame values where the metric has them (LPIPS), else None."""


def weights_problem(keys: Sequence[str]) -> str | None:
    """None when every file in ``keys`` is present and verified, else the first problem."""
    for key in keys:
        if key not in weights.WEIGHTS:
            return f"ptx does not list the weights file {key!r} yet (see `ptx weights`)"
        if weights.find(key) is None:
            return weights.missing_message(key)
        try:
            weights.verify(key)
        except PtxError as exc:
            return str(exc)
    return None


def lpips_score(output: ArrayLike, truth: ArrayLike) -> OptionalScore:
    """LPIPS (AlexNet, v0.1) of every frame and its mean, or None with the reason.

    ``output``, ``truth``: uint8 (T, H, W, 3) or float tensors (T, 3, H, W) in [0, 1].
    """
    problem = weights_problem(LPIPS_KEYS)
    if problem is not None:
        return OptionalScore(None, f"LPIPS unavailable: {problem}")
    return OptionalScore(None, "LPIPS unavailable: its network is not implemented in ptx yet")


def fid_score(real: ArrayLike, generated: ArrayLike) -> OptionalScore:
    """FID between two sets of frames, or None with the reason.

    ``real``, ``generated``: uint8 (N, H, W, 3) or float tensors (N, 3, H, W) in [0, 1];
    the sets need not be the same size or frame size.
    """
    problem = weights_problem(FID_KEYS)
    if problem is not None:
        return OptionalScore(None, f"FID unavailable: {problem}")
    sizes = (int(real.shape[0]), int(generated.shape[0]))
    if min(sizes) < FID_MIN_FRAMES:
        return OptionalScore(
            None,
            f"FID unavailable: it needs at least {FID_MIN_FRAMES} frames per set, got "
            f"{sizes[0]} real and {sizes[1]} generated",
        )
    return OptionalScore(None, "FID unavailable: its network is not implemented in ptx yet")
