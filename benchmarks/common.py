"""Helpers shared by the benchmarks: timing medians, machine description, JSON output."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Where the figures came from."""
    import torch

    info: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds over ``repeats`` runs after ``warmup``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return path


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that
    over fork + exec, so a child started by a large process reports the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def crowd_arguments(
    ap: argparse.ArgumentParser, people: int, steps: int, norm: bool = False
) -> None:
    """The synthetic-crowd benchmarks' common options: the crowd (--people, --holdout,
    --frames), the training (--steps, --batch), --workdir, and with ``norm`` the
    generator's --norm."""
    ap.add_argument("--people", type=int, default=people)
    ap.add_argument("--holdout", type=int, default=2)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    if norm:
        ap.add_argument(
            "--norm",
            choices=("none", "instance"),
            default=None,
            help="the generator's normalisation (default: the method's)",
        )
