"""Which torch device a setting names (``auto``, ``cpu``, ``cuda``, ``cuda:N``): one rule
for training, rendering and the body fit, checked before any work starts."""

from __future__ import annotations

import os
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


THREADS_ENV = "PTX_THREADS"
"""Environment variable: how many CPU threads torch uses (default: the cores free now)."""


def cpu_threads(requested: int | None = None) -> int:
    """How many CPU threads torch should use: ``requested`` when > 0, else ``PTX_THREADS``
    when set, else the cores free now: the cores this process may run on
    (``os.sched_getaffinity``) less the 1-minute load average (the other processes'
    runnable threads), rounded so that one busy process takes one core, at least 1.

    torch's threads wait for each other at every operation; when they outnumber the free
    cores they wait on threads the scheduler has not run, and a model that renders 72
    frames/s alone fell to 3 beside one other CPU-bound process with all cores' worth of
    threads. One thread per free core shares the machine instead."""
    if requested is not None and requested > 0:
        return int(requested)
    value = env_count(THREADS_ENV, "a thread count", "Give 1 or more.")
    if value is not None:
        return value
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this system
        return cores
    return max(1, min(cores, round(cores - load + 0.25)))


def env_count(name: str, what: str, hint: str) -> int | None:
    """The positive whole number in environment variable ``name`` (None when unset); any
    other value is an InputError saying it is not ``what``."""
    env = os.environ.get(name, "").strip()
    if not env:
        return None
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"{name}={env!r} is not {what}.", hint)
    return value


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def use_cpu_threads(requested: int | None = None) -> int:
    """Set torch's CPU thread count to :func:`cpu_threads` (``requested``) and return it."""
    import torch

    n = cpu_threads(requested)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
