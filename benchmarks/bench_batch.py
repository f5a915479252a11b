"""Batch preparation benchmark: 12 short clips prepared one after another in one process,
with `--jobs 2` and with `--ray` (a local instance of 2 CPUs), against one `ptx prepare`
process per video (what `make prepare -j2` used to run) as a second baseline, all in the
same run (the order of the modes turns with each repeat).

    python benchmarks/bench_batch.py [--clips 12] [--frames 16] [--repeats 1]

The clips are synthetic dances (`ptx synth`, 64 px, a different person each) prepared at
32 px with their own OpenPose keypoints (`--keypoints openpose:{dir}/{stem}_gt/openpose`,
so no MediaPipe) and a short fit. Every mode starts from an empty workspace; the wall
clock runs from the command's start (imports included) to its exit. The arrays of every
mode are compared with the sequential run's, bit for bit.

Writes benchmarks/results/batch.json: per mode the wall clocks (median over repeats), the
speed-up over the sequential run, whether the arrays matched; the load average around it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from ptx.body.synth import SynthConfig, synthesize
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace

OPTIONS = ["--size", "32", "--keypoints", "openpose:{dir}/{stem}_gt/openpose",
           "--set", "mask.method=skeleton", "--set", "fit.rigid_iters=20",
           "--set", "fit.pose_iters=40", "--set", "fit.silhouette_iters=0",
           "--set", "fit.shape_frames=8"]  # fmt: skip


def ptx(*args: object, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ptx.cli.main", *map(str, args)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip


def check(proc: subprocess.Popen) -> None:
    _, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"ptx failed ({proc.returncode}): {err[-2000:]}")


def per_video(clips: list[Path], ws: Path, env: dict[str, str], at_once: int = 2) -> None:
    """One `ptx prepare VIDEO` process per video, ``at_once`` at a time (make -j2)."""
    waiting, running = list(clips), []
    while waiting or running:
        while waiting and len(running) < at_once:
            clip = waiting.pop(0)
            opts = [
                o.replace("{dir}", str(clip.parent)).replace("{stem}", clip.stem) for o in OPTIONS
            ]
            running.append(ptx("prepare", clip, "-w", ws, *opts, env=env))
        check(running.pop(0))


def arrays(root: Path) -> dict[tuple[str, str], np.ndarray]:
    ws = Workspace(root)
    return {(v, n): VideoStore(ws, v).read(n) for v in ws.video_ids()
            for n in VideoStore(ws, v).arrays()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=12)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-batch-"))
    env = {**os.environ, "RAY_NUM_CPUS": "2", "PTX_CHUNK_FRAMES": "8"}
    try:
        clips = [tmp / "clips" / f"clip {i:02d}.mp4" for i in range(args.clips)]
        for i, clip in enumerate(clips):
            clip.parent.mkdir(parents=True, exist_ok=True)
            synthesize(clip, SynthConfig("dance", frames=args.frames, size=64, seed=100 + i))
        modes = {
            "sequential": lambda ws: check(ptx("prepare", *clips, "-w", ws, *OPTIONS, env=env)),
            "jobs2": lambda ws: check(
                ptx("prepare", *clips, "--jobs", "2", "-w", ws, *OPTIONS, env=env)
            ),
            "ray": lambda ws: check(ptx("prepare", "--ray", *clips, "-w", ws, *OPTIONS, env=env)),
            "process_per_video_j2": lambda ws: per_video(clips, ws, env),
        }
        load_before = os.getloadavg()
        times: dict[str, list[float]] = {m: [] for m in modes}
        names = list(modes)
        for r in range(args.repeats):  # the order turns each repeat: load drifts
            for name in names[r % len(names) :] + names[: r % len(names)]:
                run = modes[name]
                ws = tmp / f"ws-{name}-{r}"
                t0 = time.perf_counter()
                run(ws)
                times[name].append(time.perf_counter() - t0)
                print(f"{name}: {times[name][-1]:.1f} s", flush=True)
        reference = arrays(tmp / "ws-sequential-0")
        result: dict[str, dict] = {}
        base = statistics.median(times["sequential"])
        for name in modes:
            got = arrays(tmp / f"ws-{name}-0")
            same = sorted(got) == sorted(reference) and all(
                np.array_equal(got[k], reference[k]) for k in reference
            )
            wall = statistics.median(times[name])
            result[name] = {"wall_s": round(wall, 2), "runs_s": [round(t, 2) for t in times[name]],
                            "speedup_vs_sequential": round(base / wall, 2),
                            "arrays_equal_sequential": same}  # fmt: skip
        data = {
            "clips": args.clips,
            "frames_per_clip": args.frames,
            "repeats": args.repeats,
            "modes": result,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        }
        print(write_result("batch", data))
        for name, r in result.items():
            print(f"{name:>22}: {r['wall_s']:6.1f} s  x{r['speedup_vs_sequential']:.2f}  "
                  f"equal={r['arrays_equal_sequential']}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
