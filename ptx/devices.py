"""Which torch device a setting names (``auto``, ``cpu``, ``cuda``, ``cuda:N``): one rule
for training, rendering and the body fit, checked before any work starts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ptx.errors import InputError

if TYPE_CHECKING:
    import torch


def resolve_device(name: str | None, what: str = "--device") -> torch.device:
    """The device ``name`` names; ``auto`` (or None) is CUDA when available, else the CPU.
    Raises InputError for an unknown name or a CUDA device this machine does not have."""
    import torch

    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"{what}={name!r} is unknown.", "Use auto, cpu, cuda or cuda:N.") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise InputError(f"{what}={name!r} is unknown.", "Use auto, cpu, cuda or cuda:N.")
    if not torch.cuda.is_available():
        raise InputError(
            f"{what}={name}, but this torch build sees no CUDA device.",
            "Use cpu (or auto), or install a CUDA build of torch on a machine with a GPU.",
        )
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InputError(
            f"{what}={name}, but this machine has {torch.cuda.device_count()} CUDA device(s).",
            "Use cuda:0 .. cuda:N-1.",
        )
    return dev
