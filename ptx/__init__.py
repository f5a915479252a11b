"""ptx: person-specific neural video rendering and pose transfer (D2G-Net).

The Python API is at the top of the package (``ptx.prepare``, ``ptx.train``,
``ptx.transfer``, ``ptx.render``, ``ptx.score``, ``ptx.export``, ``ptx.transfer_batch``);
the errors it raises are ``ptx.PtxError`` and its subclasses. ``import ptx`` stays cheap:
the API module loads on first use, and torch, MediaPipe and numba only when a function
needs them.
"""

from __future__ import annotations

import importlib
from typing import Any

from ptx.errors import (
    DiskFullError,
    InputError,
    LockedError,
    MissingWeightsError,
    PtxError,
    QualityError,
    StageError,
    WorkspaceError,
)

__version__ = "0.1.0"

API = ("prepare", "train", "transfer", "transfer_batch", "render", "score", "export",
       "Prepared", "BatchResult", "LineProgress")  # fmt: skip
"""Names ``ptx`` exposes from :mod:`ptx.api`, loaded on first access."""

__all__ = [
    *API,
    "DiskFullError",
    "InputError",
    "LockedError",
    "MissingWeightsError",
    "PtxError",
    "QualityError",
    "StageError",
    "WorkspaceError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """The API functions, imported on first use (PEP 562) so ``import ptx`` stays cheap;
    ``ptx.api`` sits at the top of the layers, above everything it calls."""
    if name in API:
        value = getattr(importlib.import_module("ptx.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ptx' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(API))
