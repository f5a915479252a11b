"""One-shot animation on a synthetic crowd, on the CPU: does DwNet beat warping the source
picture, and does its previous-frame conditioning lower the temporal error?

A crowd of ``--people`` synthetic people (``ptx.training.crowd``: each a different
appearance and one of three motions, ``--frames`` frames at 64 px) is written into a
workspace; the last ``--holdout`` people are held out (never trained on). Two DwNet runs
(``tiny`` preset, ``--steps`` steps each, the same seed): the full model and the one
without previous-frame conditioning (``previous=false``, the paper's "No d_i" ablation).
On each held-out person, the one-shot protocol (``ptx.perform.oneshot``): frame 0 is the
source picture, frames 1.. drive (their IUV) and are the targets; the output is rendered
recurrently in chunks of 8. Reported per model: mean PSNR and L1 over the held-out frames,
the same for the warp-only baseline (the source warped by the coarse IUV grid), and the
temporal error (change from frame to frame against the real video's change).

With ``--eval-every N`` the training loop's own held-out evaluation (single frames, the
source as the previous frame) every N steps is kept as the PSNR-vs-steps ``curve``; the
seconds per step are the median of the loop's logged rates. The two variants can train in
two processes on one crowd (``--variants full`` and ``--variants no_previous`` with
``--reuse``); the one that finishes last writes the result with both. ``--continue-run
LABEL=RUN`` continues a variant's run from its checkpoint to ``--steps`` (the rest of its
linear decay follows the new total).

    python benchmarks/bench_oneshot.py [--people 12] [--holdout 2] [--frames 24]
        [--steps 400] [--batch 2] [--eval-every 500] [--workdir DIR] [--set KEY=VALUE]

Writes benchmarks/results/oneshot.json; the load average before and after is recorded.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import crowd_arguments, machine, peak_rss_mb, write_result

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.perform.oneshot import self_reconstruction
from ptx.perform.render import load_model
from ptx.training.crowd import store_crowd
from ptx.training.shared_run import train_shared


def evaluate(run_dir: Path, ws: Workspace, people: list[str]) -> dict:
    model = load_model(run_dir, "cpu")
    rows = []
    for p in people:
        store = VideoStore(ws, ws.subject(p)["videos"][0])
        rows.append(self_reconstruction(model, store, batch=8))
    cat = lambda k: np.concatenate([getattr(r, k) for r in rows])  # noqa: E731
    return {
        "psnr": float(cat("psnr").mean()),
        "l1": float(cat("l1").mean()),
        "warp_psnr": float(cat("warp_psnr").mean()),
        "warp_l1": float(cat("warp_l1").mean()),
        "temporal": float(np.mean([r.temporal for r in rows])),
        "warp_temporal": float(np.mean([r.warp_temporal for r in rows])),
        "frames": int(len(cat("psnr"))),
    }


def curve(run_dir: Path) -> list[dict]:
    """The loop's held-out evaluations (step, psnr, psnr_warp) from the run's log.csv."""
    with open(Path(run_dir) / "log.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("psnr")]
    return [{"step": int(r["step"]), "psnr": float(r["psnr"]),
             "psnr_warp": float(r["psnr_warp"])} for r in rows]  # fmt: skip


def median_seconds_per_step(run_dir: Path) -> float:
    """1 / the median of the loop's logged steps/s (over every stretch of the run)."""
    with open(Path(run_dir) / "log.csv", newline="") as f:
        rates = [float(r["steps_per_s"]) for r in csv.DictReader(f) if r.get("steps_per_s")]
    return 1 / float(np.median(rates))


def main() -> None:
    ap = argparse.ArgumentParser()
    crowd_arguments(ap, people=12, steps=400)
    ap.add_argument("--eval-every", type=int, default=0, help="Held-out PSNR curve every N steps.")
    ap.add_argument("--set", action="append", default=[], help="Extra setting KEY=VALUE.")
    ap.add_argument("--variants", default="full,no_previous", help="Which runs to train.")
    ap.add_argument("--reuse", action="store_true", help="Use the crowd already in --workdir.")
    ap.add_argument(
        "--continue-run",
        action="append",
        default=[],
        metavar="LABEL=RUN",
        help="Continue this variant's run (its checkpoint) to --steps instead of "
        "starting it (the rest of its linear decay follows the new --steps).",
    )
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="ptx-oneshot-"))
    out = {"machine": machine(), "load_before": os.getloadavg(), "args": vars(args) | {
        "workdir": str(root)}}  # fmt: skip
    ws = Workspace.open(root / "ws")
    t = time.perf_counter()
    if args.reuse:
        names = sorted(ws.subject_names())
    else:
        names = store_crowd(ws, args.people, frames=args.frames, size=64)
    out["crowd_seconds"] = time.perf_counter() - t
    held = names[-args.holdout :]
    common = {"steps": args.steps, "batch": args.batch, "device": "cpu", "tensorboard": False,
              "eval_every": args.eval_every, "sample_every": args.eval_every,
              "checkpoint_every": min(args.steps, 1000)}  # fmt: skip
    common |= dict(kv.split("=", 1) for kv in args.set)
    variants = {"full": {}, "no_previous": {"previous": "false"}}
    resume = dict(kv.split("=", 1) for kv in args.continue_run)
    for label in [v for v in args.variants.split(",") if v]:
        extra = variants[label]
        t = time.perf_counter()
        if label in resume:
            keep = ("steps", "eval_every", "sample_every", "checkpoint_every")
            res = train_shared(ws, [], run=Path(resume[label]), method="dwnet",
                               overrides={k: common[k] for k in keep})  # fmt: skip
        else:
            res = train_shared(ws, names, args.holdout, "tiny", common | extra, method="dwnet")
        seconds = time.perf_counter() - t
        scores = evaluate(res.run_dir, ws, held)
        out[label] = scores | {"train_seconds": seconds, "run": str(res.run_dir),
                               "seconds_per_step": median_seconds_per_step(res.run_dir),
                               "train_eval_psnr": res.final, "curve": curve(res.run_dir)}  # fmt: skip
        print(label, json.dumps(out[label]), flush=True)
        (root / f"{label}.json").write_text(json.dumps(out[label]))
    for label in variants:  # runs trained by another process on the same crowd
        if label not in out and (root / f"{label}.json").is_file():
            out[label] = json.loads((root / f"{label}.json").read_text())
    if not {"full", "no_previous"} <= set(out):
        return
    full, nop = out["full"], out["no_previous"]
    out["dwnet_minus_warp_psnr_db"] = full["psnr"] - full["warp_psnr"]
    out["dwnet_l1_over_warp_l1"] = full["l1"] / full["warp_l1"]
    out["temporal_previous_over_none"] = full["temporal"] / nop["temporal"]
    out["peak_rss_mb"] = peak_rss_mb()
    out["load_after"] = os.getloadavg()
    print(write_result("oneshot", out))


if __name__ == "__main__":
    main()
