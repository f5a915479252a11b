"""LPIPS and FID: metrics that need pretrained networks no installed package carries.

Their weights are looked up through :mod:`ptx.weights`; ptx never downloads them. When a file
is absent (or its hash differs, or it cannot be read), the score is ``None`` with a one-line
reason, which ``ptx score`` shows in its table and writes as ``null`` in its JSON: never a
silent skip.

- LPIPS (Zhang et al. 2018, v0.1, AlexNet trunk; :mod:`ptx.metrics.lpips`): per frame,
  between each output frame and its real frame, then the mean. Needs the AlexNet ImageNet
  weights (``alexnet``) and LPIPS's linear layers (``lpips_alex``), frames of at least
  :data:`LPIPS_MIN_SIZE` pixels a side. Lower is better; 0 for identical frames.
- FID (Heusel et al. 2017; :mod:`ptx.metrics.inception`): the Frechet distance between
  Gaussians fitted to the 2048-d pool features of pytorch-fid's InceptionV3 on the real and
  on the generated set (``inception_fid``). Frames are resized to 299x299 (bilinear), as
  pytorch-fid does. With few frames (a held-out tail of tens) FID is biased upwards: compare
  runs scored on the same frames, not with published values measured on thousands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from ptx import weights
from ptx.errors import InputError, PtxError
from ptx.metrics._arrays import ArrayLike, as_unit_frames, check_same_shape

LPIPS_KEYS = ("alexnet", "lpips_alex")
"""ptx.weights keys LPIPS needs: the AlexNet trunk and LPIPS v0.1's linear layers."""
FID_KEYS = ("inception_fid",)
"""ptx.weights keys FID needs: pytorch-fid's InceptionV3 (pt_inception-2015-12-05)."""
FID_MIN_FRAMES = 2
"""Fewest frames per set for which a covariance, and so FID, exists."""
LPIPS_MIN_SIZE = 32
"""Smallest frame side AlexNet's strides leave a feature map for."""
BATCH = 8
"""Frames per network forward pass."""

_Net = TypeVar("_Net")


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


def _network(
    metric: str, keys: Sequence[str], loader: Callable[[], _Net], input_problem: str | None
) -> _Net | OptionalScore:
    """The loaded network, or the score saying why there is none: a weights problem first
    (what the user must fetch), then ``input_problem``, then a file that does not load."""
    problem = weights_problem(keys) or input_problem
    if problem is None:
        try:
            return loader()
        except (PtxError, ValueError) as exc:
            problem = str(exc)
    return OptionalScore(None, f"{metric} unavailable: {problem}")


def lpips_score(output: ArrayLike, truth: ArrayLike) -> OptionalScore:
    """LPIPS (AlexNet, v0.1) of every frame and its mean, or None with the reason.

    ``output``, ``truth``: the same frames, uint8 (T, H, W, 3) or float tensors (T, 3, H, W)
    in [0, 1] (see :mod:`ptx.metrics._arrays`).
    """
    from ptx.metrics.lpips import load_lpips

    n = len(output)
    if len(truth) != n:
        raise InputError(f"output and truth differ in frame count: {n} and {len(truth)}.")
    input_problem = "there are no frames to compare" if not n else None
    if n:
        h, w = as_unit_frames(output[:1], "output").shape[-2:]
        if min(h, w) < LPIPS_MIN_SIZE:
            input_problem = (
                f"frames of {w}x{h} are smaller than AlexNet's "
                f"{LPIPS_MIN_SIZE}x{LPIPS_MIN_SIZE} minimum"
            )
    net = _network("LPIPS", LPIPS_KEYS, load_lpips, input_problem)
    if isinstance(net, OptionalScore):
        return net
    per_frame = []
    with torch.inference_mode():
        for i in range(0, n, BATCH):  # frames turn into floats a batch at a time
            out = as_unit_frames(output[i : i + BATCH], "output")
            ref = as_unit_frames(truth[i : i + BATCH], "truth")
            check_same_shape(out, ref, "output and truth frames")
            per_frame.append(net(out, ref))
    values = torch.cat(per_frame).double().numpy()
    return OptionalScore(float(values.mean()), per_frame=values)


def fid_score(real: ArrayLike, generated: ArrayLike) -> OptionalScore:
    """FID between two sets of frames, or None with the reason.

    ``real``, ``generated``: uint8 numpy (N, H, W, 3) or float tensors (N, 3, H, W) in
    [0, 1]; the sets need not be the same size or frame size.
    """
    from ptx.metrics.inception import features, load_fid_inception

    sizes = len(real), len(generated)
    too_few = (
        f"it needs at least {FID_MIN_FRAMES} frames per set, got {sizes[0]} real and "
        f"{sizes[1]} generated"
    )
    net = _network(
        "FID", FID_KEYS, load_fid_inception, too_few if min(sizes) < FID_MIN_FRAMES else None
    )
    if isinstance(net, OptionalScore):
        return net
    # features() turns frames into floats a batch at a time
    return OptionalScore(
        frechet_distance(features(net, real, BATCH), features(net, generated, BATCH))
    )


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to the rows of ``x`` (N, D) and ``y`` (M, D).

    ``|mu_x - mu_y|^2 + tr(S_x) + tr(S_y) - 2 tr((S_x S_y)^1/2)`` with unbiased covariances.
    The last trace is computed exactly without a matrix square root of a possibly singular
    product: with centred rows A, B it is the sum of the singular values of
    ``A B^T / sqrt((N-1)(M-1))`` (N x M, used when a set has fewer rows than D), else the
    sum of the square roots of the eigenvalues of ``S_x^1/2 S_y S_x^1/2`` (D x D). Both are
    symmetric positive semi-definite routes, so the result is real and, up to rounding,
    >= 0.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"want (N, D) and (M, D) features, got {x.shape} and {y.shape}")
    n, m, d = len(x), len(y), x.shape[1]
    if min(n, m) < FID_MIN_FRAMES:
        raise ValueError(f"need at least {FID_MIN_FRAMES} rows per set, got {n} and {m}")
    a = x - x.mean(0)
    b = y - y.mean(0)
    mean_term = float(np.sum((x.mean(0) - y.mean(0)) ** 2))
    trace_x = float(np.sum(a * a)) / (n - 1)
    trace_y = float(np.sum(b * b)) / (m - 1)
    if min(n, m) <= d:
        cross = float(np.linalg.svd(a @ b.T, compute_uv=False).sum()) / np.sqrt((n - 1) * (m - 1))
    else:
        sx, sy = a.T @ a / (n - 1), b.T @ b / (m - 1)
        vals, vecs = np.linalg.eigh(sx)
        root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
        inner = np.linalg.eigvalsh(root @ sy @ root)
        cross = float(np.sqrt(np.clip(inner, 0.0, None)).sum())
    return max(mean_term + trace_x + trace_y - 2.0 * cross, 0.0)
