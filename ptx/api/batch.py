"""Many transfers in one process (``ptx transfer --batch FILE``): each model loads once.

The batch file (YAML or JSON) is a list of jobs, or a mapping with ``jobs`` and
``defaults`` (settings every job starts from)::

    defaults: {target: alice, retarget: 3d}
    jobs:
      - {source: dance1.mp4, output: out/dance1.mp4}
      - {source: poses.json, target: bob, fps: 24}
      - {source: frames/, output: out/frames.mp4, start: 2, end: 6}

A job takes ``source`` and ``target`` (required), ``output`` and any option of
:func:`ptx.transfer` (``method``, ``run``, ``retarget``, ``background``, ``alpha``,
``side_by_side``, ``keep_audio``, ``output_size``, ``source_keypoints``, ``start``, ``end``,
``max_frames``, ``fps``, ``settings``). Relative paths are relative to the batch file.
Every job runs; the ones that fail are reported with their error.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptx.api.core import PathLike, transfer, workspace_of
from ptx.errors import InputError, PtxError

PATH_KEYS = ("source", "output", "background")
"""Job keys that name files (resolved against the batch file's folder)."""


@dataclass
class BatchResult:
    """What a batch did: each job's result, or its error."""

    results: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    """(job, TransferResult) of the jobs that ran."""
    failures: list[tuple[dict[str, Any], PtxError]] = field(default_factory=list)
    """(job, error) of the jobs that failed."""


def read_batch(path: PathLike) -> list[dict[str, Any]]:
    """The jobs of a batch file (module docstring), defaults applied, paths resolved."""
    import yaml

    path = Path(path).expanduser()
    try:
        data: Any = yaml.safe_load(path.read_text())  # JSON is YAML too
    except FileNotFoundError:
        raise InputError(f"No such batch file: {path}.") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"Cannot read batch file {path} ({reason}).") from None
    if isinstance(data, dict):
        defaults, jobs = dict(data.get("defaults") or {}), data.get("jobs")
    else:
        defaults, jobs = {}, data
    if not isinstance(jobs, list) or not jobs:
        raise InputError(f"{path} lists no jobs.", "Write a list of {source, target, output}.")
    allowed = set(inspect.signature(transfer).parameters) - {"workspace", "progress", "_models"}
    out = []
    for i, job in enumerate(jobs, 1):
        if not isinstance(job, dict):
            raise InputError(f"{path}: job {i} is not a mapping of settings.")
        job = {**defaults, **job}
        unknown = sorted(set(job) - allowed)
        if unknown:
            raise InputError(f"{path}: job {i} has unknown key(s) {', '.join(unknown)}.",
                             f"Known: {', '.join(sorted(allowed))}.")  # fmt: skip
        missing = [k for k in ("source", "target") if not job.get(k)]
        if missing:
            raise InputError(f"{path}: job {i} has no {' and no '.join(missing)}.")
        for key in PATH_KEYS:
            if job.get(key) is not None and not Path(str(job[key])).expanduser().is_absolute():
                job[key] = str(path.parent / str(job[key]))
        out.append(job)
    return out


def transfer_batch(
    jobs: list[dict[str, Any]] | PathLike,
    *,
    workspace: PathLike | None = None,
    device: str = "auto",
    progress: Any = None,
    on_done: Callable[[dict[str, Any], Any, PtxError | None], None] | None = None,
) -> BatchResult:
    """Run transfer ``jobs`` (a list of :func:`ptx.transfer` keyword mappings, or a batch
    file) in order, loading each model once; ``on_done(job, result, error)`` is called
    after each."""
    if not isinstance(jobs, list):
        jobs = read_batch(jobs)
    ws = workspace_of(workspace)
    models: dict[Path, Any] = {}
    out = BatchResult()
    for job in jobs:
        try:
            res = transfer(**{"device": device, **job}, workspace=ws, progress=progress,
                           _models=models)  # fmt: skip
        except PtxError as exc:
            out.failures.append((job, exc))
            if on_done is not None:
                on_done(job, None, exc)
            continue
        out.results.append((job, res))
        if on_done is not None:
            on_done(job, res, None)
    return out
