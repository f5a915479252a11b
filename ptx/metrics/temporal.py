"""Temporal error E_temp (Huang et al., CVPR 2017): does the output move the way the real
video moves, without flicker?

For each frame t >= 1 of an output sequence, output frame t-1 is warped to t with the
optical flow of the REAL frames, and compared with output frame t on the valid pixels.
Definitions (fixed here, used by ``ptx score``):

- Flow (ptx convention, the ``flow`` array): ``flow[t]`` float (H, W, 2) holds ``(dx, dy)``
  in pixels from frame t to frame t-1, so ``warped_prev(x) = prev(x + flow[t](x))``
  (bilinear; ``ptx.nn.warp``, the one definition the flow stage and the temporal loss use
  too). ``flow[0]`` is unused.
- Valid pixels: the flow's validity mask (forward-backward consistent, i.e. not occluded)
  and ``x + flow[t](x)`` inside the frame.
- Scale: RGB on the 0..255 scale.
- Per frame: ``mae[t]`` = mean over valid pixels and the 3 channels of
  ``|O_t - warp(O_{t-1})|``; ``rms[t]`` = the root of the same mean of squares.
- Sequence: **E_temp = mean over frames of ``mae[t]``** (frames with no previous frame or no
  valid pixel are skipped). This mean absolute difference is the headline value; Huang et
  al.'s own form, a root mean square, is reported beside it as ``temporal_rms`` =
  ``sqrt(mean over frames of rms[t]^2)``. On a static-background composite most pixels
  warp exactly, so both come out small (the paper's table reads 0.41..0.78; its scale is not
  published).

Scoring the real frames themselves with their own flow gives the floor the flow allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ptx.errors import InputError
from ptx.metrics._arrays import ArrayLike, as_bool_mask, as_unit_frames, nan_mean
from ptx.nn.warp import warp_backward

SCALE = 255.0
"""Differences are measured on RGB scaled to 0..SCALE."""


@dataclass
class TemporalErrors:
    """Per-frame temporal errors of a sequence, all float64 (T,); NaN where undefined."""

    mae: np.ndarray
    """Mean |O_t - warp(O_{t-1})| over valid pixels and channels, RGB on 0..255."""
    rms: np.ndarray
    """Root mean square of the same differences."""
    valid_fraction: np.ndarray
    """Fraction of the frame's pixels that were compared."""

    def __len__(self) -> int:
        return len(self.mae)

    @staticmethod
    def concat(parts: list[TemporalErrors]) -> TemporalErrors:
        """The errors of consecutive chunks as one sequence."""
        return TemporalErrors(
            *(
                np.concatenate([getattr(p, k) for p in parts])
                for k in ("mae", "rms", "valid_fraction")
            )
        )

    def summary(self) -> dict[str, float | None]:
        """``temporal_error`` (mean of mae) and ``temporal_rms`` (Huang et al.'s form)."""
        ms = nan_mean(self.rms**2)
        return {
            "temporal_error": nan_mean(self.mae),
            "temporal_rms": None if ms is None else float(np.sqrt(ms)),
        }


def _as_flow(flow: ArrayLike, device: torch.device | None) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(flow)) if isinstance(flow, np.ndarray) else flow
    if t.ndim != 4 or t.shape[-1] != 2:
        raise InputError(f"flow has shape {tuple(t.shape)}; it must be (T, H, W, 2).")
    return t.to(device=device, dtype=torch.float32)


def temporal_errors(
    frames: ArrayLike,
    flow: ArrayLike,
    valid: ArrayLike | None = None,
    *,
    previous: ArrayLike | None = None,
    batch: int = 8,
    device: torch.device | str | None = None,
) -> TemporalErrors:
    """Temporal error of every frame of an output sequence (definitions: module docstring).

    ``frames``: output frames, uint8 (T, H, W, 3) or float tensor (T, 3, H, W) in [0, 1];
    ``flow``: float (T, H, W, 2), the REAL frames' flow, ``flow[t]`` from t to t-1;
    ``valid``: the flow's validity, (T, H, W) bool / uint8 x 255 / float (None: all valid);
    ``previous``: the output frame just before ``frames[0]`` (one frame, same layout), so a
    long sequence can be scored chunk by chunk; without it frame 0 has no value (NaN).
    Anything sliceable along T works (a Zarr array is read ``batch`` frames at a time).
    """
    n = int(frames.shape[0])
    if int(flow.shape[0]) != n or (valid is not None and int(valid.shape[0]) != n):
        raise InputError(
            f"frames has {n} frames, flow {int(flow.shape[0])}"
            + ("" if valid is None else f", valid {int(valid.shape[0])}")
            + "; they must cover the same frames."
        )
    dev = torch.device(device) if device is not None else None
    mae, rms, frac = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
    prev = None if previous is None else as_unit_frames(previous, "previous", dev)
    with torch.no_grad():
        for start in range(0, n, max(1, batch)):
            stop = min(start + batch, n)
            cur = as_unit_frames(frames[start:stop], "frames", dev)
            fl = _as_flow(flow[start:stop], dev)
            ok = (
                torch.ones(fl.shape[:3], dtype=torch.bool, device=dev)
                if valid is None
                else as_bool_mask(valid[start:stop], "valid", dev)
            )
            if ok.shape != fl.shape[:3]:
                raise InputError(
                    f"valid has shape {tuple(ok.shape)}; it must be (T, H, W) = "
                    f"{tuple(fl.shape[:3])} like the flow."
                )
            if prev is not None and prev.shape[1:] != cur.shape[1:]:
                raise InputError(
                    f"previous frame is {tuple(prev.shape[1:])}, frames are "
                    f"{tuple(cur.shape[1:])}; pass the frame just before frames[0]."
                )
            # pair i of this batch: frames[start + i - 1] -> frames[start + i]
            before = cur[:-1] if prev is None else torch.cat([prev, cur[:-1]])
            first = cur.shape[0] - before.shape[0]  # 1 when frame 0 has no previous frame
            if before.shape[0] > 0:
                errors = _pair_errors(cur[first:], before, fl[first:], ok[first:])
                for out, values in zip((mae, rms, frac), errors):
                    out[start + first : stop] = values
            prev = cur[-1:]
    return TemporalErrors(mae, rms, frac)


def _pair_errors(
    cur: torch.Tensor, before: torch.Tensor, flow: torch.Tensor, valid: torch.Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mae, rms, valid fraction), each float64 (B,), of the pairs before[i] -> cur[i]."""
    if cur.shape[2:] != before.shape[2:] or flow.shape[1:3] != cur.shape[2:]:
        raise InputError(
            f"frames are {tuple(cur.shape[2:])} but flow is {tuple(flow.shape[1:3])}; "
            "score output frames at the size of the real frames' flow."
        )
    warped, inside = warp_backward(before, flow.permute(0, 3, 1, 2))
    keep = (inside[:, 0] & valid).unsqueeze(1).double()
    diff = (cur.double() - warped.double()) * SCALE
    count = keep.sum(dim=(1, 2, 3)) * cur.shape[1]
    m_abs = ((diff.abs() * keep).sum(dim=(1, 2, 3)) / count.clamp(min=1)).cpu().numpy()
    m_sq = ((diff**2 * keep).sum(dim=(1, 2, 3)) / count.clamp(min=1)).cpu().numpy()
    empty = (count == 0).cpu().numpy()
    return (
        np.where(empty, np.nan, m_abs),
        np.where(empty, np.nan, np.sqrt(m_sq)),
        keep.mean(dim=(1, 2, 3)).cpu().numpy(),
    )
