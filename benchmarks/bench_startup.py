"""CLI start-up benchmark: wall time of `ptx --help`, `ptx methods` and `ptx status` (on a
workspace with one prepared video) as subprocesses, next to the bare interpreter and to
importing the libraries the commands used to load at start-up (torch, numba, MediaPipe's
dependencies), measured in the same run. The goal is < 0.5 s per command. Each command's
CPU time (user + system) is recorded too: on a loaded machine the wall time is mostly
waiting for a core.

    python benchmarks/bench_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

ROOT = Path(__file__).resolve().parents[1]


CPU: dict[str, float] = {}
"""Median CPU seconds (user + system) of each command measured by :func:`wall`, by name."""


def wall(argv: list[str], repeats: int, env: dict[str, str], name: str = "") -> float:
    """Median wall time of running ``argv`` (process start included); its median CPU time
    goes to ``CPU[name]`` (on a loaded machine the wall time is mostly waiting for a core;
    the CPU time is what the command costs, its wall time on an idle core)."""
    times, cpus = [], []
    for _ in range(repeats + 1):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)  # fmt: skip
        times.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if name:
        CPU[name] = statistics.median(cpus[1:])
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-startup-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120"}
    py = sys.executable
    ptx = [py, "-m", "ptx.cli.main"]
    try:
        clip = tmp / "clip.mp4"
        subprocess.run([*ptx, "synth", str(clip), "--frames", "24", "--size", "128"], env=env,
                       check=True, capture_output=True)  # fmt: skip
        ws = tmp / "ws"
        subprocess.run([*ptx, "prepare", str(clip), "-w", str(ws), "--until", "crop",
                        "--size", "128"], env=env, check=True, capture_output=True)  # fmt: skip
        load0 = os.getloadavg()
        r = args.repeats
        result = {
            "commands_s": {
                "help": wall([*ptx, "--help"], r, env, "help"),
                "methods": wall([*ptx, "methods"], r, env, "methods"),
                "status": wall([*ptx, "status", "-w", str(ws)], r, env, "status"),
                "version": wall([*ptx, "--version"], r, env, "version"),
            },
            "baselines_s": {
                "python": wall([py, "-c", "pass"], r, env, "python"),
                "import_torch": wall([py, "-c", "import torch"], r, env, "import_torch"),
                "import_heavy": wall(
                    [py, "-c", "import torch, numba, cv2, scipy.signal, zarr"], r, env
                ),
            },
            "cpu_s": dict(CPU),
            "goal_s": 0.5,
            "repeats": r,
            "statistic": "median",
            "load_average": [load0[0], os.getloadavg()[0]],
        }
        result["all_under_goal"] = all(v < 0.5 for v in result["commands_s"].values())
        result["all_cpu_under_goal"] = all(
            CPU[k] < 0.5 for k in ("help", "methods", "status", "version")
        )
        path = write_result("startup", result)
        print(f"startup: {result['commands_s']} (python {result['baselines_s']['python']:.2f} s,"
              f" import torch {result['baselines_s']['import_torch']:.2f} s) -> {path}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
