"""Kill benchmark: SIGKILL `ptx prepare` at random points inside every stage and `ptx train`
at random steps, run the same command again, and compare the result bit for bit with an
uninterrupted run's.

    python benchmarks/bench_kill.py [--kills 2] [--train-kills 2] [--seed 0]

The subject is a synthetic dance (`ptx synth`, 48 frames at 128 px), prepared at 64 px with
4 frames per chunk and MediaPipe keypoints (the stage whose tracker has state). For stage S
the killed run starts from a workspace already prepared up to the stage before S, and is
killed once S has committed a random share of its chunks; the same `ptx prepare` command
then runs to the end, and every array of the store is compared with the reference's. For
training (the `tiny` preset's model, shortened: 4 warm-up + 12 steps with the GAN on, a
checkpoint every 3 steps; `deterministic` left at its default), the run is killed at a random moment and
continued with `ptx train --resume` (or the same command again when no checkpoint was
written yet); every tensor of the final checkpoint is compared with an uninterrupted run's.

Writes benchmarks/results/kill.json: per stage, kills sent, kills that landed inside the
stage, runs that resumed, and mismatching arrays (the goal is 0 everywhere).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

from common import write_result

from ptx.cache.checkpoints import load_checkpoint, resolve_checkpoint
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.pipeline.registry import STAGES

PREPARE = [
    "--size", "64", "--subject", "dancer",
    "--set", "fit.rigid_iters=20", "--set", "fit.pose_iters=40",
    "--set", "fit.silhouette_iters=0",
]  # fmt: skip
TRAIN = [
    "--subject", "dancer", "--steps", "12", "--set", "uv_warmup_steps=4",
    "--set", "gan_start=4", "--set", "checkpoint_every=3", "--set", "eval_every=0",
    "--set", "sample_every=0",
]  # fmt: skip


def ptx(*args: str, ws: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "PTX_WORKSPACE": str(ws), "PTX_CHUNK_FRAMES": "4",
           "PTX_WEIGHTS": str(ws.parent / "no-weights")}  # fmt: skip
    cmd = [sys.executable, "-m", "ptx.cli.main", *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def run(*args: str, ws: Path) -> None:
    proc = ptx(*args, ws=ws)
    _, err = proc.communicate(timeout=900)
    if proc.returncode:
        raise RuntimeError(f"ptx {' '.join(args)} failed ({proc.returncode}): {err.decode()}")


def record(ws: Path, stage: str) -> dict | None:
    for path in ws.glob(f"videos/*/records/{stage}.json"):
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, OSError):
            return None
    return None


def arrays(ws: Path) -> dict[str, np.ndarray]:
    w = Workspace(ws)
    store = VideoStore(w, w.video_ids()[0])
    return {name: store.read(name) for name in store.arrays()}


def mismatches(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    names = sorted(set(a) | set(b))
    return [
        n for n in names
        if n not in a or n not in b or a[n].shape != b[n].shape
        or not np.array_equal(a[n], b[n], equal_nan=True)
    ]  # fmt: skip


def kill_in_stage(video: Path, ws: Path, stage: str, share: float) -> tuple[bool, float]:
    """Start `ptx prepare`, SIGKILL it once ``stage`` has committed ``share`` of its chunks;
    return whether the kill landed inside the stage (its record left partial) and when."""
    proc = ptx("prepare", str(video), *PREPARE, ws=ws)
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < 600:
        rec = record(ws, stage)
        if rec and rec["status"] == "partial" and rec["n_chunks"]:
            if len(rec["chunks_done"]) >= int(share * rec["n_chunks"]):
                proc.send_signal(signal.SIGKILL)
                break
        elif rec and rec["status"] == "complete":
            break  # the stage finished before the kill could land
        time.sleep(0.001)
    proc.wait(timeout=60)
    proc.communicate()
    rec = record(ws, stage)
    return bool(rec and rec["status"] == "partial"), time.monotonic() - t0


def bench_prepare(video: Path, root: Path, kills: int, rng: random.Random) -> dict:
    ref = root / "ref"
    t0 = time.perf_counter()
    run("prepare", str(video), *PREPARE, ws=ref)
    ref_seconds = time.perf_counter() - t0
    reference = arrays(ref)
    # snapshots: the workspace prepared up to the stage before each stage
    order = list(STAGES)
    snap = {order[0]: None}
    for before, stage in itertools.pairwise(order):
        path = root / f"until-{before}"
        if snap[before] is not None:
            shutil.copytree(snap[before], path)
        run("prepare", str(video), *PREPARE, "--until", before, ws=path)
        snap[stage] = path
    out: dict[str, dict] = {}
    for stage in order:
        row = {"kills": 0, "landed": 0, "resumed": 0, "mismatches": 0, "arrays": []}
        for i in range(kills):
            ws = root / f"kill-{stage}-{i}"
            if snap[stage] is not None:
                shutil.copytree(snap[stage], ws)
            landed = False
            for _attempt in range(4):  # a fast stage can finish before the kill lands
                landed, _ = kill_in_stage(video, ws, stage, rng.random() * (0.9**_attempt))
                row["kills"] += 1
                if landed:
                    break
            row["landed"] += int(landed)
            try:
                run("prepare", str(video), *PREPARE, ws=ws)
            except RuntimeError as exc:
                row.setdefault("errors", []).append(str(exc)[:300])
                continue
            rec = record(ws, stage) or {}
            row["resumed"] += int(landed and rec.get("status") == "complete")
            bad = mismatches(reference, arrays(ws))
            row["mismatches"] += len(bad)
            row["arrays"] = sorted(set(row["arrays"]) | set(bad))
            shutil.rmtree(ws, ignore_errors=True)
        out[stage] = row
        print(stage, row, flush=True)
    return {"stages": out, "reference_prepare_s": round(ref_seconds, 1), "_ref": ref}


def final_state(ws: Path) -> dict:
    runs = sorted((ws / "runs" / "dancer" / "d2g").iterdir())
    path, _ = resolve_checkpoint(runs[-1] / "checkpoints")
    data = load_checkpoint(path)
    return {"step": data["step"], "trainer": data["trainer"], "sampler": data["sampler"]}


def tensor_diffs(a, b, path: str = "") -> list[str]:
    if isinstance(a, torch.Tensor):
        same = isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
        return [] if same else [path]
    if isinstance(a, dict):
        keys = set(a) | set(b if isinstance(b, dict) else {})
        return [d for k in sorted(keys, key=str) for d in tensor_diffs(
            a.get(k), b.get(k) if isinstance(b, dict) else None, f"{path}.{k}")]  # fmt: skip
    if isinstance(a, list | tuple):
        if not isinstance(b, list | tuple) or len(a) != len(b):
            return [path]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in tensor_diffs(x, y, f"{path}[{i}]")]
    return [] if a == b else [path]


def bench_train(prepared: Path, root: Path, kills: int, rng: random.Random) -> dict:
    ref = root / "train-ref"
    shutil.copytree(prepared, ref)
    t0 = time.perf_counter()
    run("train", *TRAIN, ws=ref)
    ref_seconds = time.perf_counter() - t0
    reference = final_state(ref)
    row = {"kills": 0, "resumed": 0, "restarted": 0, "mismatches": 0, "tensors": []}
    for i in range(kills):
        ws = root / f"train-kill-{i}"
        shutil.copytree(prepared, ws)
        proc = ptx("train", *TRAIN, ws=ws)
        time.sleep(rng.uniform(0.3, 0.9) * ref_seconds)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        row["kills"] += 1
        runs = list((ws / "runs" / "dancer" / "d2g").glob("*/checkpoints/step-*.pt"))
        if runs:
            run("train", "--subject", "dancer", "--resume", ws=ws)
            row["resumed"] += 1
        else:
            run("train", *TRAIN, ws=ws)
            row["restarted"] += 1
        bad = tensor_diffs(reference, final_state(ws))
        row["mismatches"] += len(bad)
        row["tensors"] = sorted(set(row["tensors"]) | set(bad))[:20]
        print("train", row, flush=True)
        shutil.rmtree(ws, ignore_errors=True)
    return {"train": row, "reference_train_s": round(ref_seconds, 1)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=2, help="kills per stage of prepare")
    ap.add_argument("--train-kills", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ptx-bench-kill-") as tmp:
        root = Path(tmp)
        video = root / "dance.mp4"
        subprocess.run(
            [sys.executable, "-m", "ptx.cli.main", "synth", str(video), "--frames", "48",
             "--size", "128", "--seed", "2"], check=True, capture_output=True,
        )  # fmt: skip
        prep = bench_prepare(video, root, args.kills, rng)
        train = bench_train(prep.pop("_ref"), root, args.train_kills, rng)
    stages = prep["stages"]
    total = {
        "kills": sum(r["kills"] for r in stages.values()) + train["train"]["kills"],
        "landed_in_stage": sum(r["landed"] for r in stages.values()),
        "mismatches": sum(r["mismatches"] for r in stages.values()) + train["train"]["mismatches"],
    }
    path = write_result(
        "kill",
        {
            "prepare": stages,
            **{k: v for k, v in prep.items() if k != "stages"},
            **train,
            "total": total,
            "settings": {
                "kills_per_stage": args.kills,
                "train_kills": args.train_kills,
                "seed": args.seed,
                "chunk_frames": 4,
                "frames": 48,
            },
            "seconds": round(time.perf_counter() - t0, 1),
            "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        },
    )
    print(f"{total} -> {path}")
    return 1 if total["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
