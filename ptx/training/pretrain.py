"""`ptx train --pretrain --method M --subjects a,b,c`: train a method's person-agnostic
part (D2G-Net's UV generator) on many subjects, for its person-specific runs to start from.

The method's ``pretrain`` gives the part's trainer (a step, a summary, what to save); this
job reads the subjects' arrays (every video resized to the first one's frame, whatever its
aspect: the part is fully convolutional and sees each pixel's pose), draws the batches, reports progress and writes
``<workspace>/runs/_pretrained/<part>/<timestamp>/checkpoints/<file>``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from pathlib import Path
from typing import Any

from ptx import __version__
from ptx.cache.checkpoints import write_atomic
from ptx.cache.workspace import Workspace, validate_name
from ptx.devices import resolve_device
from ptx.errors import InputError
from ptx.methods.registry import get_method
from ptx.training.data import BatchSampler
from ptx.training.load import load_subject_data
from ptx.training.log import NullTrainReporter, TrainReporter


@dataclasses.dataclass
class PretrainResult:
    path: Path
    steps: int
    videos: int
    frames: int
    final: dict[str, float]
    """Last losses and the pretrainer's summary (e.g. part accuracy on held-out frames)."""
    seconds: float


def pretrain(
    workspace: Workspace | Path | str | None,
    subjects: list[str],
    method: str | None = None,
    preset: str = "tiny",
    overrides: dict[str, Any] | None = None,
    steps: int | None = None,
    reporter: TrainReporter | None = None,
) -> PretrainResult:
    """Pretrain ``method``'s person-agnostic part on every video of ``subjects``."""
    m = get_method(method)
    if m.pretrain is None:
        raise InputError(f"Method {m.name} has no part to pretrain.")
    if not subjects:
        raise InputError("Pretraining needs subjects.", "Give them as --subjects a,b,c.")
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace, create=False)
    for s in subjects:
        validate_name(s)
    reporter = reporter or NullTrainReporter()
    cfg = m.resolve_config(preset, overrides)
    data = load_subject_data(ws, subjects, m, cfg, mixed_aspects=True)
    device = resolve_device(cfg.device)
    part = m.pretrain(cfg, device)
    n_steps = steps if steps is not None else part.default_steps()
    sampler = BatchSampler(len(data.train_ids), cfg.batch, cfg.seed)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = ws.root / "runs" / "_pretrained" / part.part / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    reporter.start(run_dir, 0, n_steps)
    t0 = time.perf_counter()
    values: dict[str, float] = {}
    for step in range(n_steps):
        values = part.train_step(data.batch(data.train_ids[sampler.next()], device), step)
        reporter.step(step + 1, n_steps, values)
    values.update(part.summary(data))
    final = run_dir / "checkpoints" / part.file
    write_atomic(
        final,
        {
            "format": part.format,
            "format_version": part.version,
            **part.payload(),
            "method": m.name,
            "config": dataclasses.asdict(cfg),
            "subjects": list(subjects),
            "videos": [v.name for v in data.videos],
            "steps": n_steps,
            "final": values,
            "ptx_version": __version__,
        },
    )
    reporter.end()
    return PretrainResult(
        final,
        n_steps,
        len(data.videos),
        int(data.arrays["frames"].shape[0]),
        values,
        time.perf_counter() - t0,
    )
