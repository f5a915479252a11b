"""Memory of many-subject training data: peak RSS while drawing training batches from a
synthetic crowd of 5 and of 50 people, with the lazy frame cache's budget fixed.

Each measurement is its own process (``--child``): it opens the crowd's stores
(``ptx.training.shared_run.load_shared_data``, DwNet's arrays: frames + IUV at 64 px) and
draws ``--batches`` training batches (3-frame driving windows + a source, batch 2) in a
seeded random order over every video; its resident memory (VmRSS) is sampled after every
batch. Reported: the peak, and its growth over the RSS right after the imports (torch's
import alone peaks higher than anything after it, so ``ru_maxrss`` cannot tell); the RSS
once the stores are opened (``rss_after_opening_mb``: mostly the pipeline's lazy imports,
no frame is read yet) shows how much of that growth is reading. The crowd (``--frames``
frames per person, 64 px) is written once into ``--workdir``.

    python benchmarks/bench_oneshot_memory.py [--people 5 50] [--frames 48]
        [--budget-mb 16] [--batches 150] [--workdir DIR]

Writes benchmarks/results/oneshot_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_result


def rss_mb() -> float:
    """The process's resident memory now (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(root: Path, people: int, budget: float, batches: int) -> dict:
    import torch

    from ptx.cache.workspace import Workspace
    from ptx.methods.registry import get_method
    from ptx.training.shared_run import load_shared_data

    base = rss_mb()
    if people == 0:
        return {"rss_mb": base}
    ws = Workspace.open(root / "ws", create=False)
    names = sorted(ws.subject_names())[:people]
    m = get_method("dwnet")
    cfg = m.resolve_config("tiny", {"device": "cpu", "data_budget_mb": budget, "batch": 2})
    data = load_shared_data(ws, names, [], m, cfg)
    g = torch.Generator().manual_seed(0)
    opened = rss_mb()
    peak = opened
    t = time.perf_counter()
    for _ in range(batches):
        ids = data.train_ids[torch.randint(len(data.train_ids), (2,), generator=g)]
        data.batch(ids, torch.device("cpu"))
        peak = max(peak, rss_mb())
    n = sum(v.count for v in data.videos)
    return {
        "peak_rss_mb": peak,
        "growth_over_imports_mb": peak - base,
        "rss_after_imports_mb": base,
        "rss_after_opening_mb": opened,
        "max_rss_incl_imports_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cache_peak_mb": data.cache.peak / 2**20,
        "chunk_loads": data.cache.loads,
        "all_frames_in_memory_mb": n * 64 * 64 * 6 / 2**20,
        "ms_per_batch": 1000 * (time.perf_counter() - t) / batches,
        "frames": n,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, nargs="+", default=[5, 50])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--budget-mb", type=float, default=16.0)
    ap.add_argument("--batches", type=int, default=150)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--child", type=int, default=None)
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="ptx-oneshot-mem-"))
    if args.child is not None:
        print(json.dumps(child(root, args.child, args.budget_mb, args.batches)))
        return
    from ptx.cache.workspace import Workspace
    from ptx.training.crowd import store_crowd

    ws = Workspace.open(root / "ws")
    if len(ws.subject_names()) < max(args.people):
        store_crowd(ws, max(args.people), frames=args.frames, size=64)
    out = {"machine": machine(), "load_before": os.getloadavg(), "args": vars(args) | {
        "workdir": str(root)}}  # fmt: skip
    for n in (0, *args.people):
        cmd = [sys.executable, __file__, "--child", str(n), "--workdir", str(root),
               "--budget-mb", str(args.budget_mb), "--batches", str(args.batches)]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        out[f"people_{n}" if n else "imports_only"] = json.loads(res.stdout.splitlines()[-1])
        print(n, out.get(f"people_{n}", out.get("imports_only")), flush=True)
    a, b = out[f"people_{min(args.people)}"], out[f"people_{max(args.people)}"]
    out["growth_many_minus_few_mb"] = b["growth_over_imports_mb"] - a["growth_over_imports_mb"]
    out["growth_ratio_many_over_few"] = b["growth_over_imports_mb"] / a["growth_over_imports_mb"]
    out["load_after"] = os.getloadavg()
    print(write_result("oneshot_memory", out))


if __name__ == "__main__":
    main()
