"""ptx as a Python library: the plain functions every ptx command calls.

::

    import ptx

    prep = ptx.prepare("me.mp4", subject="me")            # every stage, cached
    run = ptx.train("me", preset="tiny", steps=300)        # a run folder and its checkpoint
    out = ptx.transfer("dance.mp4", "me", "me-dancing.mp4")
    print(ptx.score("me").results["psnr"])

Arguments are ``str | Path`` values with the CLI's defaults, results are typed, errors are
``ptx.PtxError`` subclasses, and ``progress=True`` writes plain progress lines (see
:mod:`ptx.api.core`).
"""

from __future__ import annotations

from ptx.api.batch import BatchResult, read_batch, transfer_batch
from ptx.api.core import Prepared, export, prepare, render, score, train, transfer
from ptx.api.progress import LineProgress

__all__ = [
    "BatchResult",
    "LineProgress",
    "Prepared",
    "export",
    "prepare",
    "read_batch",
    "render",
    "score",
    "train",
    "transfer",
    "transfer_batch",
]
