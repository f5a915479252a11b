"""Turning the arrays the metrics accept into one tensor layout, with early shape checks.

Frames come in two layouts, told apart by type, never by guessing from the shape:

- ``uint8`` (numpy or torch): ``(T, H, W, 3)`` RGB, 0..255 (the store's ``frames`` layout);
  a single ``(H, W, 3)`` frame is taken as ``T = 1``.
- floating torch tensors: ``(T, 3, H, W)`` RGB in ``[0, 1]`` (a model's output, rescaled by
  the caller); a single ``(3, H, W)`` frame is taken as ``T = 1``. Values are clamped to
  ``[0, 1]``. Floating numpy arrays are taken as ``(T, H, W, 3)`` in ``[0, 1]``.

Masks are ``(T, H, W)``: ``bool`` as is, ``uint8`` as probability x 255 (the store's ``mask``
layout; a pixel counts when its value is >= 128), floating as probability (>= 0.5).
"""

from __future__ import annotations

import numpy as np
import torch

from ptx.errors import InputError

ArrayLike = np.ndarray | torch.Tensor


def as_unit_frames(x: ArrayLike, name: str, device: torch.device | None = None) -> torch.Tensor:
    """float32 (T, 3, H, W) in [0, 1] on ``device`` (see the module docstring for inputs)."""
    t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{name} must be a numpy array or a torch tensor, not {type(x).__name__}.")
    if t.dtype == torch.uint8 or (isinstance(x, np.ndarray) and t.is_floating_point()):
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[-1] != 3:
            raise InputError(
                f"{name} has shape {tuple(t.shape)}; uint8 frames must be (T, H, W, 3) RGB."
            )
        t = t.to(device).permute(0, 3, 1, 2)
        scale = 1.0 / 255.0 if t.dtype == torch.uint8 else 1.0
        return (t.float() * scale).clamp_(0.0, 1.0).contiguous()
    if t.is_floating_point():
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[1] != 3:
            raise InputError(
                f"{name} has shape {tuple(t.shape)}; float tensors must be (T, 3, H, W) in [0, 1]."
            )
        return t.detach().to(device=device, dtype=torch.float32).clamp(0.0, 1.0).contiguous()
    raise InputError(f"{name} has dtype {t.dtype}; use uint8 (T, H, W, 3) or float (T, 3, H, W).")


def as_bool_mask(m: ArrayLike, name: str, device: torch.device | None = None) -> torch.Tensor:
    """bool (T, H, W) on ``device``: bool as is, uint8 >= 128, floating >= 0.5."""
    t = torch.from_numpy(np.ascontiguousarray(m)) if isinstance(m, np.ndarray) else m
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{name} must be a numpy array or a torch tensor, not {type(m).__name__}.")
    if t.ndim == 2:
        t = t.unsqueeze(0)
    if t.ndim != 3:
        raise InputError(f"{name} has shape {tuple(t.shape)}; masks must be (T, H, W).")
    t = t.to(device)
    if t.dtype == torch.bool:
        return t
    if t.dtype == torch.uint8:
        if t.numel() and int(t.max()) == 1:
            raise InputError(
                f"{name} is a uint8 mask of 0 and 1; uint8 masks are probability x 255.",
                "Pass a 0/1 mask as bool.",
            )
        return t >= 128
    if t.is_floating_point():
        return t >= 0.5
    raise InputError(f"{name} has dtype {t.dtype}; use bool, uint8 (x 255) or float masks.")


def check_same_shape(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise InputError(
            f"{what} differ in shape: {tuple(a.shape)} and {tuple(b.shape)}; "
            "they must be the same frames at the same size."
        )


def nan_mean(values: np.ndarray) -> float | None:
    """Mean of the finite values, or None when there are none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None
