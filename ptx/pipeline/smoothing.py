"""Temporal clean-up of keypoint tracks: fill short gaps, smooth jitter, mark long gaps.

1. A joint counts as observed in a frame when its confidence is above ``min_confidence``.
2. Gaps of at most ``max_gap`` frames between two observations are filled by linear
   interpolation (confidence: the smaller of the two ends); a gap of at most ``max_gap``
   frames at the start or end of the clip holds the nearest observation. Longer gaps stay
   missing: ``x, y, confidence = 0, 0, 0`` (the OpenPose convention).
3. Each stretch of a joint's track without gaps is smoothed. ptx sees the whole clip, so
   both smoothers are zero-phase (no lag):

   - ``savgol`` (default): Savitzky-Golay, a local quadratic fit over ``window`` seconds
     (7 frames at 30 fps) centred on each frame.
   - ``one-euro``: the One-Euro filter (Casiez et al., CHI 2012), a low-pass whose cut-off
     rises with speed, run forwards and backwards and averaged so that the lag of one pass
     cancels the lead of the other. Speeds are in person heights per second (the median
     height of the keypoint box), so its parameters do not depend on resolution.

   Why Savitzky-Golay is the default: on synthetic tracks with white jitter of 1% of the
   person's height at 30 fps, the quadratic fit left 0.58x the jitter on still joints and
   0.6-0.7x on joints swinging 15-20% of the person's height at 1-3 Hz (dance). The
   One-Euro filter left 0.3x on still joints but, being first order, flattened every
   turning point of a swing: 0.9-1.4x (worse than no smoothing) at 1-3 Hz for any
   ``beta`` that still helped still joints.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


@dataclass
class CleanupStats:
    """What the clean-up did, for the stage's metadata."""

    filled: int
    """Joint-frames filled by interpolation (or held at the clip's ends)."""
    missing: int
    """Joint-frames left missing (gaps longer than ``max_gap``)."""


def fill_gaps(
    keypoints: np.ndarray, max_gap: int, min_confidence: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Fill short gaps in ``keypoints`` float (T, K, 3) (see the module docstring).

    Returns the filled keypoints float32 (T, K, 3) (missing joints all zero) and ``filled``
    bool (T, K), True where a value was made up."""
    kp = np.asarray(keypoints, dtype=np.float32)
    t_count = kp.shape[0]
    seen = kp[..., 2] > min_confidence
    frames = np.arange(t_count)[:, None]
    prev = np.maximum.accumulate(np.where(seen, frames, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(seen, frames, t_count)[::-1], axis=0)[::-1]
    has_prev, has_next = prev >= 0, nxt < t_count
    p, n = np.clip(prev, 0, t_count - 1), np.clip(nxt, 0, t_count - 1)
    cols = np.arange(kp.shape[1])[None, :]
    kp_p, kp_n = kp[p, cols], kp[n, cols]
    gap = np.where(has_prev & has_next, nxt - prev - 1, t_count)
    inner = ~seen & has_prev & has_next & (gap <= max_gap)
    lead = ~seen & ~has_prev & has_next & (nxt <= max_gap)
    tail = ~seen & has_prev & ~has_next & (t_count - 1 - prev <= max_gap)
    out = np.where(seen[..., None], kp, 0.0).astype(np.float32)
    w = ((frames - prev) / np.maximum(nxt - prev, 1))[..., None]
    interp_xy = kp_p[..., :2] * (1 - w) + kp_n[..., :2] * w
    interp_c = np.minimum(kp_p[..., 2], kp_n[..., 2])
    out[inner] = np.concatenate([interp_xy, interp_c[..., None]], axis=-1)[inner]
    out[lead] = kp_n[lead]
    out[tail] = kp_p[tail]
    return out, inner | lead | tail


def _alpha(cutoff: np.ndarray | float, rate: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * np.pi * cutoff)
    return 1.0 / (1.0 + tau * rate)


def one_euro(
    values: np.ndarray,
    valid: np.ndarray,
    rate: float,
    min_cutoff: float,
    beta: float,
    d_cutoff: float = 1.0,
) -> np.ndarray:
    """One forward One-Euro pass over ``values`` float (T, N) (N independent signals).

    ``valid`` bool (T, N): the filter restarts after every invalid frame and leaves invalid
    frames as they are. ``rate`` is frames per second; cut-offs are in Hz and ``beta`` in
    1 / (signal unit per second)."""
    out = np.array(values, dtype=np.float64)
    x_hat = out[0].copy()
    dx_hat = np.zeros_like(x_hat)
    was_valid = valid[0].copy()
    a_d = _alpha(d_cutoff, rate)
    for t in range(1, len(out)):
        x, ok = out[t], valid[t]
        cont = ok & was_valid
        dx = (x - x_hat) * rate
        dx_hat = np.where(cont, dx_hat + a_d * (dx - dx_hat), 0.0)
        a = _alpha(min_cutoff + beta * np.abs(dx_hat), rate)
        x_hat = np.where(cont, x_hat + a * (x - x_hat), x)
        out[t] = np.where(ok, x_hat, x)
        was_valid = ok
    return out


SMOOTHERS = ("savgol", "one-euro", "none")
"""The smoothing methods :func:`smooth_tracks` knows (module docstring)."""


def savgol_window(fps: float, window: float) -> int:
    """Odd frame count covering ``window`` seconds at ``fps`` (at least 5)."""
    n = max(5, round(window * fps))
    return n if n % 2 else n + 1


def _segments(valid: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of every run of True in ``valid`` bool (T,)."""
    edges = np.diff(np.concatenate([[0], valid.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


@functools.lru_cache(maxsize=16)
def _savgol_matrix(width: int, order: int) -> np.ndarray:
    """(width, width) float64: row i maps ``width`` consecutive samples to the value at
    sample i of the least-squares polynomial of ``order`` through them."""
    at = np.arange(width, dtype=np.float64) - width // 2
    basis = np.vander(at, order + 1, increasing=True)
    return basis @ np.linalg.pinv(basis)


def savgol(x: np.ndarray, width: int, order: int = 2) -> np.ndarray:
    """Savitzky-Golay smoothing of ``x`` (T, ...) along axis 0 over an odd ``width`` <= T:
    each sample becomes the value of the polynomial of ``order`` fitted to the ``width``
    samples centred on it; the first and last ``width // 2`` take the polynomial fitted to
    the first or last ``width`` samples (SciPy's ``savgol_filter(..., mode="interp")``, to
    ~1e-12; tested against it). NumPy only: SciPy's signal package takes ~0.9 s to import,
    which the keypoints stage paid on every prepare."""
    x = np.asarray(x, dtype=np.float64)
    n, half = len(x), width // 2
    if width % 2 == 0 or width > n or order >= width:
        raise ValueError(f"savgol needs an odd width <= {n} above order {order}, got {width}")
    m = _savgol_matrix(width, order)
    out = np.empty_like(x)
    windows = np.lib.stride_tricks.sliding_window_view(x, width, axis=0)  # (n-w+1, ..., w)
    out[half : n - half] = windows @ m[half]
    out[:half] = np.tensordot(m[:half], x[:width], axes=(1, 0))
    out[n - half :] = np.tensordot(m[half + 1 :], x[n - width :], axes=(1, 0))
    return out


def _savgol(xy: np.ndarray, valid: np.ndarray, width: int) -> np.ndarray:
    """Local quadratic smoothing of ``xy`` float (T, K, 2) along time, per valid stretch."""
    out = xy.copy()
    for k in range(xy.shape[1]):
        for a, b in _segments(valid[:, k]):
            w = min(width, (b - a) if (b - a) % 2 else (b - a - 1))
            if w >= 5:
                out[a:b, k] = savgol(xy[a:b, k], w, 2)
    return out


def smooth_tracks(
    keypoints: np.ndarray,
    fps: float,
    method: str = "savgol",
    window: float = 0.23,
    min_cutoff: float = 1.0,
    beta: float = 10.0,
    d_cutoff: float = 1.0,
) -> np.ndarray:
    """Zero-phase smoothing of the x, y of ``keypoints`` float (T, K, 3) with ``method``
    (module docstring); joints with confidence 0 are missing and split the tracks.
    Returns float32 (T, K, 3)."""
    if method not in SMOOTHERS:
        raise ValueError(f"unknown smoothing method {method!r}; known: {', '.join(SMOOTHERS)}")
    kp = np.asarray(keypoints, dtype=np.float32)
    t_count, k = kp.shape[:2]
    if t_count < 3 or method == "none":
        return kp.copy()
    present = kp[..., 2] > 0
    xy = kp[..., :2].astype(np.float64)
    if method == "savgol":
        smoothed = _savgol(xy, present, savgol_window(fps, window))
    else:
        valid = np.repeat(present, 2, axis=1)  # (T, 2K), x and y of each joint
        scale = person_height(kp)
        flat = xy.reshape(t_count, 2 * k) / scale
        fwd = one_euro(flat, valid, fps, min_cutoff, beta, d_cutoff)
        bwd = one_euro(flat[::-1], valid[::-1], fps, min_cutoff, beta, d_cutoff)[::-1]
        smoothed = ((fwd + bwd) * (0.5 * scale)).reshape(t_count, k, 2)
    out = kp.copy()
    out[..., :2] = smoothed
    out[~present] = 0.0
    return out


def person_height(keypoints: np.ndarray) -> float:
    """Median height (pixels) of the box around each frame's present joints; at least 1."""
    kp = np.asarray(keypoints)
    ok = kp[..., 2] > 0
    heights = []
    for t in np.flatnonzero(ok.sum(axis=1) >= 2):
        ys = kp[t, ok[t], 1]
        heights.append(float(ys.max() - ys.min()))
    return max(1.0, float(np.median(heights))) if heights else 1.0


def clean_keypoints(
    keypoints: np.ndarray,
    fps: float,
    max_gap: int,
    min_confidence: float = 0.0,
    method: str = "savgol",
    window: float = 0.23,
    min_cutoff: float = 1.0,
    beta: float = 10.0,
) -> tuple[np.ndarray, CleanupStats]:
    """Fill gaps, then smooth (module docstring). ``keypoints`` float (T, K, 3) ->
    (float32 (T, K, 3), stats)."""
    filled, made_up = fill_gaps(keypoints, max_gap, min_confidence)
    out = smooth_tracks(filled, fps, method, window, min_cutoff, beta)
    stats = CleanupStats(filled=int(made_up.sum()), missing=int((out[..., 2] <= 0).sum()))
    return out, stats
