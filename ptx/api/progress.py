"""Progress as plain lines: for logs, pipes, batch jobs and notebooks.

:class:`LineProgress` receives what the stage runner (``ptx.pipeline.stage.Reporter``), the
renderer and the training loop (``ptx.training.log.TrainReporter``) report, and writes one
line when something starts or ends and otherwise at most one line every ``every`` seconds
(``PTX_PROGRESS_EVERY``, default 10) per stage or run: no redraws, nothing a log cannot
hold. It writes only to the stream it is given (standard error by default), and only when
the caller asked for progress (``progress=True`` in ``ptx.prepare`` and friends, or the
CLI outside a terminal).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

DEFAULT_EVERY = 10.0
"""Seconds between progress lines of one stage or run."""


def progress_every() -> float:
    """``PTX_PROGRESS_EVERY`` seconds (default :data:`DEFAULT_EVERY`)."""
    try:
        return max(0.0, float(os.environ.get("PTX_PROGRESS_EVERY", DEFAULT_EVERY)))
    except ValueError:
        return DEFAULT_EVERY


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class _Task:
    def __init__(self, total: int | None, done: int) -> None:
        self.total, self.done, self.start_done = total, done, done
        self.t0 = self.last = time.monotonic()

    def rate(self) -> float:
        return (self.done - self.start_done) / max(time.monotonic() - self.t0, 1e-9)

    def eta(self) -> str:
        rate = self.rate()
        if not self.total or rate <= 0:
            return ""
        return f", ETA {_clock(max(0, self.total - self.done) / rate)}"


class LineProgress:
    """A stage reporter and a training reporter that writes plain lines (module docstring)."""

    def __init__(
        self, stream: TextIO | None = None, every: float | None = None, ends: bool = True
    ) -> None:
        self.stream = stream
        self.every = progress_every() if every is None else every
        self.ends = ends
        """A line when each stage ends (off where a closing table says it all); a stage
        that printed progress always gets one."""
        self._spoke: set[str] = set()
        self.tasks: dict[str, _Task] = {}
        self.outcomes: list[Any] = []
        self._train: _Task | None = None

    def _line(self, text: str) -> None:
        out = self.stream or sys.stderr
        out.write(text + "\n")
        out.flush()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    # --- stages (ptx.pipeline.stage.Reporter) -------------------------------------------
    def stage_start(self, stage: str, total: int | None, done: int) -> None:
        self.tasks[stage] = _Task(total, done)

    def stage_total(self, stage: str, total: int) -> None:
        if stage in self.tasks:
            self.tasks[stage].total = total

    def advance(self, stage: str, frames: int) -> None:
        task = self.tasks.get(stage)
        if task is None:
            task = self.tasks[stage] = _Task(None, 0)
        task.done += frames
        now = time.monotonic()
        if now - task.last >= self.every:
            task.last = now
            self._spoke.add(stage)
            of = f"/{task.total}" if task.total else ""
            self._line(f"{stage}: {task.done}{of} frames, {task.rate():.1f} frames/s{task.eta()}")

    def stage_end(self, outcome: Any) -> None:
        self.outcomes.append(outcome)
        self.tasks.pop(outcome.stage, None)
        if not (self.ends or outcome.stage in self._spoke) or outcome.status == "failed":
            return  # a failure is the error's line
        self._spoke.discard(outcome.stage)
        self._line(
            f"{outcome.stage}: {outcome.status}, {outcome.frames} frames in {outcome.seconds:.1f} s"
        )

    def warn(self, stage: str, message: str) -> None:
        self._line(f"warning ({stage}): {message}")

    def render_start(self, total: int) -> None:
        self.stage_start("render", total, 0)

    def render_advance(self, frames: int) -> None:
        self.advance("render", frames)

    # --- training (ptx.training.log.TrainReporter) --------------------------------------
    def start(self, run_dir: Path, step: int, total: int) -> None:
        self._train = _Task(total, step)
        self._line(f"train: run folder {run_dir}, step {step}/{total}")

    def step(self, step: int, total: int, values: dict[str, float]) -> None:
        task = self._train
        if task is None:
            return
        task.done, task.total = step, total
        now = time.monotonic()
        if now - task.last < self.every and step < total:
            return
        task.last = now
        losses = " ".join(f"{k} {v:.4g}" for k, v in values.items() if k != "steps_per_s")
        rate = values.get("steps_per_s", task.rate())
        self._line(f"train: step {step}/{total}, {rate:.2f} steps/s{task.eta()}; {losses}")

    def note(self, message: str) -> None:
        self._line(f"note: {message}")

    def end(self) -> None:
        self._train = None
