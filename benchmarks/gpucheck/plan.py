"""What the check runs and for how long: its settings (the full check on a GPU, or the
``--dry`` rehearsal: a few steps at tiny sizes), the wall clock it must end within, and
the parts, each timed, each allowed to fail without stopping the others."""

from __future__ import annotations

import contextlib
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass
class Plan:
    """Every size, count and time limit of one run of the check."""

    dry: bool
    budget_s: float = 480.0
    """Wall clock for the whole check; parts that would not fit are skipped and say so."""
    presets: tuple[str, ...] = ("small", "paper")
    """Presets measured (the rehearsal: ``tiny``; the others' networks are too large for a
    CPU minute)."""
    quality_preset: str = "small"
    """The preset trained for quality per minute (of the default method)."""
    subject_frames: int = 150
    """Frames of the synthetic subject (its last 10% are held out)."""
    subject_size: int = 256
    """Its prepared size (presets of another size read it resized)."""
    min_size: int | None = None
    """Dry: every preset trains at the smallest size its method accepts from this up."""
    warm_steps: int = 3
    timed_steps: int = 20
    timed_seconds: float = 4.0
    """A timed loop stops after this long even before ``timed_steps``."""
    max_batch: int = 512
    """Largest batch (training items) the search tries."""
    batch_seconds: float = 20.0
    """Time for the largest-batch search of one preset."""
    render_max_batch: int = 256
    render_seconds: float = 0.5
    """Timed rendering per batch size."""
    quality_seconds: float = 180.0
    quality_eval_every: float = 10.0
    """Seconds of training between held-out evaluations."""
    compile: bool = True
    """Measure torch.compile (in child processes; see ``compile_child``)."""
    matmul_n: int = 8192
    render_min_psnr: float = 40.0
    """bf16 renders must match the fp32 render to at least this PSNR (dB)."""
    gpu_tests: bool = True
    threads: int = 0
    """CPU threads for torch (0: its default). The rehearsal uses 1: on a small shared
    machine, tiny tensors run ~3x faster without the thread pool."""

    @classmethod
    def make(cls, dry: bool, **changes: Any) -> Plan:
        base = cls(dry=dry)
        if dry:
            base = cls(
                dry=True, budget_s=300.0, presets=("tiny",), quality_preset="tiny",
                subject_frames=20, subject_size=64, min_size=16,
                warm_steps=1, timed_steps=2, timed_seconds=2.0, max_batch=4, batch_seconds=6.0,
                render_max_batch=2, render_seconds=0.05, quality_seconds=3.0,
                quality_eval_every=1.0, compile=False, matmul_n=256, threads=1,
            )  # fmt: skip
        for key, value in changes.items():
            if value is not None:
                setattr(base, key, value)
        return base


@dataclass
class Clock:
    """The check's wall clock, its log, and the parts' times and errors."""

    budget_s: float
    log_file: TextIO | None = None
    start: float = field(default_factory=time.perf_counter)
    parts: dict[str, float] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def say(self, message: str) -> None:
        line = f"[{self.elapsed():6.1f} s] {message}"
        print(line, flush=True)
        if self.log_file is not None:
            self.log_file.write(line + "\n")
            self.log_file.flush()

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time a part; an exception is logged with its traceback and recorded, and the
        check goes on with the next part."""
        self.say(f"{name} ...")
        t0 = time.perf_counter()
        try:
            yield
        except Exception as exc:
            self.error(name, exc)
        finally:
            seconds = time.perf_counter() - t0
            self.parts[name] = round(self.parts.get(name, 0.0) + seconds, 2)
            self.say(f"{name}: {seconds:.1f} s")

    def error(self, name: str, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}".strip()
        self.errors.append({"part": name, "error": text.splitlines()[0][:500]})
        self.say(f"ERROR in {name}: {text}")
        tb = traceback.format_exc()
        print(tb, file=sys.stderr, flush=True)
        if self.log_file is not None:
            self.log_file.write(tb)
            self.log_file.flush()


def skipped(reason: str) -> dict[str, Any]:
    """A figure that was not measured, and why."""
    return {"skipped": reason}


def out_dir(path: str | Path) -> Path:
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out
