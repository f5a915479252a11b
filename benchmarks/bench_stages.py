"""Each `ptx prepare` stage but the fit alone, on a real 1080p clip at 512 px: its wall
seconds (the stage record's) and the CPU seconds of the process while it ran (all threads),
optionally against the code before (``--before TREE``, e.g. ``git archive`` of the base
commit), interleaved run by run. Every stage is re-run in place on a copy of a prepared
workspace, the last stage first (so that each re-run makes nothing else stale), with the
slow modules imported beforehand (their import is the start-up's, not the stage's). CPU
seconds are the steadier figure on a shared machine; wall seconds show the stage's own
parallelism. The load average is recorded.

    python benchmarks/bench_stages.py [--before TREE] [--repeats 2] [--stages flow mask ...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "dance_basketball.mp4"
STAGES = ["flow", "background", "label3d", "iuv", "poselabel", "mask", "crop", "keypoints",
          "extract"]  # fmt: skip
"""Re-run in this order: each only after the stages that read it."""

CHILD = """
import json, resource, shutil, sys
from ptx.api.core import prepare
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
import av, cv2, mediapipe, numba, scipy.signal, torch, zarr  # noqa: the start-up's imports
source, clean, ws = sys.argv[1:4]
shutil.rmtree(ws, ignore_errors=True)
shutil.copytree(clean, ws)
out = {}
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
for stage in sys.argv[4:]:
    c0 = cpu()
    prepare(source, workspace=ws, size=512, force=[stage], until=stage)
    w = Workspace(ws)
    rec = VideoStore(w, w.video_ids()[0]).record(stage)
    out[stage] = {"wall": rec.wall_time, "cpu": cpu() - c0}
print(json.dumps(out))
"""


def run_child(tree: Path, source: Path, clean: Path, ws: Path, stages: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PTX_STAGE_LANES": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(source), str(clean), str(ws),
                           *stages], env=env, check=True, capture_output=True, text=True,
                          cwd=tempfile.gettempdir())  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepared(tree: Path, source: Path, ws: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run([sys.executable, "-m", "ptx.cli.main", "prepare", str(source), "-w",
                    str(ws), "--size", "512"], env=env, check=True, capture_output=True,
                   cwd=tempfile.gettempdir())  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, default=REAL)
    ap.add_argument("--before", type=Path, help="a checkout of the code before")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--stages", nargs="*", default=STAGES)
    args = ap.parse_args()
    stages = [s for s in STAGES if s in args.stages]
    trees = {"after": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-stages-"))
    out: dict = {"source": args.source.name, "size": 512, "load_average_start": os.getloadavg()}
    runs: dict[str, list[dict]] = {name: [] for name in trees}
    try:
        for name, tree in trees.items():
            prepared(tree, args.source, tmp / f"{name}-clean")
        for _ in range(args.repeats):
            for name, tree in sorted(trees.items()):  # "after" then "before", interleaved
                runs[name].append(run_child(tree, args.source, tmp / f"{name}-clean",
                                            tmp / f"{name}-ws", stages))  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name, rows in runs.items():
        out[name] = {
            s: {k: statistics.median(r[s][k] for r in rows) for k in ("wall", "cpu")}
            for s in stages
        }
        out[name]["runs"] = rows
    if "before" in out:
        out["cpu_ratio"] = {s: out["after"][s]["cpu"] / out["before"][s]["cpu"] for s in stages}
    out["load_average_end"] = os.getloadavg()
    print(json.dumps({k: v for k, v in out.items() if k not in ("before", "after")}, indent=1))
    print(write_result("stages", out))


if __name__ == "__main__":
    main()
