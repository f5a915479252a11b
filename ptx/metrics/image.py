"""SSIM and PSNR per frame, on whole frames and on the person only.

Definitions (fixed here, used by ``ptx score``):

- Images are RGB scaled to ``[0, 1]`` (uint8 / 255); ``data_range`` is 1.
- **PSNR** of a frame is ``10 log10(1 / MSE)``, the MSE taken over every pixel and all three
  channels (torchmetrics' ``peak_signal_noise_ratio``), capped at :data:`PSNR_CAP_DB` = 100
  dB: identical frames (MSE 0, PSNR infinite) report exactly 100, so every value is finite
  and JSON-safe. A sequence's PSNR is the mean of its per-frame (capped) PSNRs.
- **SSIM** of a frame is torchmetrics' ``structural_similarity_index_measure`` with its
  defaults (Gaussian window sigma 1.5, 11 x 11, K1 = 0.01, K2 = 0.03, each RGB channel on its
  own, borders reflect-padded), i.e. the mean of the per-pixel SSIM map over every pixel and
  channel. A sequence's SSIM is the mean of its per-frame SSIMs.
- **Person-only** variants take a mask, normally the real frame's person mask (the store's
  ``mask`` array, pixels with probability >= 0.5):

  - person PSNR = ``10 log10(1 / MSE)`` with the MSE over the mask's pixels (all three
    channels), capped the same way;
  - person SSIM = the SSIM map computed on both images with every pixel outside the mask set
    to black (so nothing outside the mask can change it: the "mask-SSIM" of Ma et al. 2017),
    averaged over the mask's pixels only (so the person's size does not weigh in).

  A frame with an empty mask has no person value (NaN); sequence means skip NaNs. Two
  consequences to keep in mind: near the mask's edge the SSIM windows see the same black
  in both images, which lifts person SSIM a little; and with the real frame's mask, a person
  drawn where the real one is not goes unseen (pass the union with the output's mask to
  count it).

The functions take chunks of frames and return per-frame values, so a long held-out range is
scored chunk by chunk (:meth:`FrameScores.concat`) and a per-frame PSNR plot can be drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ptx.errors import InputError
from ptx.metrics._arrays import (
    ArrayLike,
    as_bool_mask,
    as_unit_frames,
    check_same_shape,
    nan_mean,
)

PSNR_CAP_DB = 100.0
"""PSNR reported for identical images (and the ceiling of every PSNR value)."""


def _batches(n: int, batch: int) -> list[slice]:
    return [slice(i, min(i + batch, n)) for i in range(0, n, max(1, batch))]


def _with_time_axis(x: ArrayLike | None, frame_ndim: int) -> ArrayLike | None:
    """A single frame (or mask) gets a leading T axis of 1."""
    return x if x is None or x.ndim != frame_ndim else x[None]


def _prepare(
    output: ArrayLike, truth: ArrayLike, mask: ArrayLike | None, sl: slice, device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One batch of frames as float (B, 3, H, W) in [0, 1], and the mask as bool (B, H, W)."""
    out = as_unit_frames(output[sl], "output", device)
    ref = as_unit_frames(truth[sl], "truth", device)
    check_same_shape(out, ref, "output and truth frames")
    m = None
    if mask is not None:
        m = as_bool_mask(mask[sl], "mask", device)
        want = (ref.shape[0], ref.shape[2], ref.shape[3])
        if tuple(m.shape) != want:
            raise InputError(
                f"mask has shape {tuple(m.shape)}; it must be (T, H, W) = {want} to match "
                "the frames."
            )
    return out, ref, m


def _check_lengths(output: ArrayLike, truth: ArrayLike, mask: ArrayLike | None) -> int:
    n = int(output.shape[0])
    if int(truth.shape[0]) != n or (mask is not None and int(mask.shape[0]) != n):
        raise InputError(
            f"output has {n} frames, truth {int(truth.shape[0])}"
            + ("" if mask is None else f", mask {int(mask.shape[0])}")
            + "; score the same frames."
        )
    return n


def _cap(psnr: torch.Tensor) -> np.ndarray:
    return psnr.double().clamp(max=PSNR_CAP_DB).cpu().numpy()


def psnr_batch(out: torch.Tensor, ref: torch.Tensor) -> np.ndarray:
    """float64 (B,) capped whole-frame PSNR of float (B, 3, H, W) images in [0, 1]."""
    from torchmetrics.functional.image import peak_signal_noise_ratio  # ~2 s import

    values = peak_signal_noise_ratio(
        out.double(), ref.double(), data_range=1.0, reduction="none", dim=(1, 2, 3)
    )
    return _cap(values)


def masked_psnr_batch(out: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """float64 (B,) capped PSNR over the pixels where ``mask`` (bool (B, H, W)) is set; NaN
    for an empty mask."""
    w = mask.unsqueeze(1).double()
    sq = ((out.double() - ref.double()) ** 2 * w).sum(dim=(1, 2, 3))
    count = w.sum(dim=(1, 2, 3)) * out.shape[1]
    mse = sq / count.clamp(min=1)
    values = _cap(10.0 * torch.log10(1.0 / mse))
    values[(count == 0).cpu().numpy()] = np.nan
    return values


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """The same values laid out NHWC: torchmetrics' grouped 11x11 convolutions run ~2x
    faster that way on the CPU (same results)."""
    return x.contiguous(memory_format=torch.channels_last)


def ssim_batch(out: torch.Tensor, ref: torch.Tensor) -> np.ndarray:
    """float64 (B,) whole-frame SSIM of float (B, 3, H, W) images in [0, 1]."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    values = structural_similarity_index_measure(
        _channels_last(out), _channels_last(ref), data_range=1.0, reduction="none"
    )
    return values.double().cpu().numpy()


def masked_ssim_batch(out: torch.Tensor, ref: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """float64 (B,) person SSIM: the SSIM map of both images blacked out off the mask (bool
    (B, H, W)), averaged over the mask's pixels; NaN for an empty mask."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    w = mask.unsqueeze(1).to(out.dtype)
    _, ssim_map = structural_similarity_index_measure(
        _channels_last(out * w),
        _channels_last(ref * w),
        data_range=1.0,
        reduction="none",
        return_full_image=True,
    )
    wd = w.double()
    count = wd.sum(dim=(1, 2, 3)) * out.shape[1]
    values = (ssim_map.double() * wd).sum(dim=(1, 2, 3)) / count.clamp(min=1)
    values = values.cpu().numpy()
    values[(count == 0).cpu().numpy()] = np.nan
    return values


@dataclass
class FrameScores:
    """Per-frame image scores of a scored range, all float64 (T,)."""

    psnr: np.ndarray
    """Whole-frame PSNR in dB, capped at PSNR_CAP_DB."""
    ssim: np.ndarray
    """Whole-frame SSIM."""
    person_psnr: np.ndarray | None = None
    """PSNR over the person mask (NaN where the mask is empty); None without a mask."""
    person_ssim: np.ndarray | None = None
    """SSIM map averaged over the person mask (NaN where empty); None without a mask."""

    def __len__(self) -> int:
        return len(self.psnr)

    @staticmethod
    def concat(parts: list[FrameScores]) -> FrameScores:
        """The scores of consecutive chunks as one range."""

        def cat(name: str) -> np.ndarray | None:
            values = [getattr(p, name) for p in parts]
            if any(v is None for v in values):
                return None
            return np.concatenate(values) if values else np.zeros(0)

        return FrameScores(cat("psnr"), cat("ssim"), cat("person_psnr"), cat("person_ssim"))

    def subset(self, indices: np.ndarray) -> FrameScores:
        """The scores of some frames (e.g. the challenging ones), by index into this range."""
        idx = np.asarray(indices, dtype=np.int64)

        def pick(v: np.ndarray | None) -> np.ndarray | None:
            return None if v is None else v[idx]

        return FrameScores(
            self.psnr[idx], self.ssim[idx], pick(self.person_psnr), pick(self.person_ssim)
        )

    def summary(self) -> dict[str, float | None]:
        """Sequence means (NaNs skipped; None where nothing was measured)."""
        return {
            "psnr": nan_mean(self.psnr),
            "ssim": nan_mean(self.ssim),
            "person_psnr": None if self.person_psnr is None else nan_mean(self.person_psnr),
            "person_ssim": None if self.person_ssim is None else nan_mean(self.person_ssim),
        }


def frame_scores(
    output: ArrayLike,
    truth: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    batch: int = 4,
    device: torch.device | str | None = None,
) -> FrameScores:
    """PSNR and SSIM of every frame, and their person-only variants when ``mask`` is given.

    ``output``, ``truth``: uint8 (T, H, W, 3) or float tensors (T, 3, H, W) in [0, 1]
    (both the same size; anything sliceable along T works, e.g. a Zarr array, read ``batch``
    frames at a time); ``mask``: (T, H, W) bool, uint8 probability x 255 or float
    probability, normally the real frames' person mask. Frames are processed ``batch`` at a
    time on ``device`` (default CPU), so memory stays bounded. Definitions: module docstring.
    """
    return _score(output, truth, mask, batch, device, ("psnr", "ssim"))


def _score(
    output: ArrayLike,
    truth: ArrayLike,
    mask: ArrayLike | None,
    batch: int,
    device: torch.device | str | None,
    which: tuple[str, ...],
) -> FrameScores:
    """The metrics named in ``which`` ("psnr", "ssim"); the others are left empty (NaN)."""
    output, truth = _with_time_axis(output, 3), _with_time_axis(truth, 3)
    mask = _with_time_axis(mask, 2)
    n = _check_lengths(output, truth, mask)
    dev = torch.device(device) if device is not None else None
    nan = np.full(n, np.nan)
    psnr, ssim = nan.copy(), nan.copy()
    person_psnr = None if mask is None else nan.copy()
    person_ssim = None if mask is None else nan.copy()
    with torch.no_grad():
        for sl in _batches(n, batch):
            out, ref, m = _prepare(output, truth, mask, sl, dev)
            if "psnr" in which:
                psnr[sl] = psnr_batch(out, ref)
                if m is not None:
                    person_psnr[sl] = masked_psnr_batch(out, ref, m)
            if "ssim" in which:
                ssim[sl] = ssim_batch(out, ref)
                if m is not None:
                    person_ssim[sl] = masked_ssim_batch(out, ref, m)
    return FrameScores(psnr, ssim, person_psnr, person_ssim)


def psnr_frames(
    output: ArrayLike, truth: ArrayLike, mask: ArrayLike | None = None, *, batch: int = 4
) -> np.ndarray:
    """float64 (T,): capped PSNR per frame, over the whole frame, or over ``mask`` when given."""
    scores = _score(output, truth, mask, batch, None, ("psnr",))
    return scores.psnr if mask is None else scores.person_psnr


def ssim_frames(
    output: ArrayLike, truth: ArrayLike, mask: ArrayLike | None = None, *, batch: int = 4
) -> np.ndarray:
    """float64 (T,): SSIM per frame, over the whole frame, or the person SSIM over ``mask``."""
    scores = _score(output, truth, mask, batch, None, ("ssim",))
    return scores.ssim if mask is None else scores.person_ssim
