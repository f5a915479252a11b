"""Ji et al.'s branch ablation in shape [002 Tab. III] on a synthetic crowd, on the CPU:
flow only (2D branch + MotionNet + BlenderNet) vs texture only (2.5D branch + MotionNet's
encoder + BlenderNet) vs both (the full model), with the same budget.

A crowd of ``--people`` synthetic people (``ptx.training.crowd``, 64 px, ``--frames``
frames each) is written into a workspace; the last ``--holdout`` people are never trained
on. Three ``ji`` runs (``tiny`` preset: 64 px output from a 32 px input, ``--steps``
steps each over the stages of the variant, the same seed and thread count). On each
held-out person, the one-shot protocol (``ptx.perform.oneshot``): frame 0 is the source,
frames 1.. drive (their IUV) and are the targets. Reported per variant: PSNR, SSIM,
person PSNR/SSIM, L1 and temporal error over the held-out frames, and the same for the
warp-only baseline (the source warped by the coarse IUV grid; no network).

    python benchmarks/bench_ji_ablation.py [--people 8] [--holdout 2] [--frames 24]
        [--steps 600] [--batch 2] [--workdir DIR]

Writes benchmarks/results/ji_ablation.json (with a Markdown table) and a sheet of one
held-out person (rows: truth, warp only, flow, texture, both; the source picture first)
to benchmarks/results/ji-ablation-synthetic.png; the load average before and after.
"""

from __future__ import annotations

import argparse
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
from ptx.metrics import frame_scores
from ptx.perform.oneshot import render_self, temporal_error
from ptx.perform.render import load_model
from ptx.training.crowd import store_crowd
from ptx.training.shared_run import train_shared

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {"flow": "flow", "texture": "texture", "both": "both"}


def scores(out: np.ndarray, truth: np.ndarray, mask, rendered) -> dict:
    s = frame_scores(out, truth, mask).summary()
    return {
        "psnr": s["psnr"], "ssim": s["ssim"], "person_psnr": s.get("person_psnr"),
        "person_ssim": s.get("person_ssim"),
        "l1": float(np.abs(out.astype(np.float32) - truth).mean() / 255),
        "temporal": float(np.mean([temporal_error(o, t) for o, t in rendered])),
    }  # fmt: skip


def evaluate(run_dir: Path, ws: Workspace, people: list[str]):
    model = load_model(run_dir, "cpu")
    rs = [render_self(model, VideoStore(ws, ws.subject(p)["videos"][0])) for p in people]
    cat = lambda k: np.concatenate([getattr(r, k) for r in rs])  # noqa: E731
    masks = [r.mask for r in rs]
    mask = cat("mask") if all(m is not None for m in masks) else None
    out = scores(cat("output"), cat("truth"), mask, [(r.output, r.truth) for r in rs])
    warp = scores(cat("warped"), cat("truth"), mask, [(r.warped, r.truth) for r in rs])
    return out | {"frames": len(cat("output"))}, warp, rs[0]


def markdown(table: dict) -> str:
    head = "| variant | PSNR | SSIM | person PSNR | person SSIM | L1 | temporal |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for name, r in table.items():
        lines.append(
            f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['person_psnr']:.2f} | "
            f"{r['person_ssim']:.4f} | {r['l1']:.4f} | {r['temporal']:.4f} |"
        )
    return "\n".join(lines)


def sheet(rows: dict[str, np.ndarray], source: np.ndarray, path: Path) -> None:
    import cv2

    n = len(next(iter(rows.values())))
    pick = np.linspace(0, n - 1, 6).round().astype(int)
    blank = np.zeros_like(source)
    lines = []
    for i, (_, frames) in enumerate(rows.items()):
        first = source if i == 0 else blank
        lines.append(np.concatenate([first, *frames[pick]], axis=1))
    img = np.concatenate(lines, axis=0)
    img = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def branches_of(run: Path) -> str:
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    return str({**cfg.get("config", {}), **cfg.get("overrides", {})}.get("branches", "both"))


def main() -> None:
    ap = argparse.ArgumentParser()
    crowd_arguments(ap, people=8, steps=600, norm=True)
    ap.add_argument(
        "--variants",
        default="both,flow,texture",
        help="the variants to run, comma-separated (the full model first)",
    )
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="evaluate the runs already trained in --workdir (no training)",
    )
    ap.add_argument(
        "--before",
        type=Path,
        default=None,
        help="an earlier ji_ablation.json whose table is kept as 'before'",
    )
    args = ap.parse_args()
    labels = [v for v in args.variants.split(",") if v]
    if not labels or any(v not in VARIANTS for v in labels):
        sys.exit(f"--variants: choose from {', '.join(VARIANTS)}")
    before = json.loads(args.before.read_text()) if args.before else None
    root = args.workdir or Path(tempfile.mkdtemp(prefix="ptx-ji-"))
    out = {"machine": machine(), "load_before": os.getloadavg(), "args": vars(args) | {
        "workdir": str(root), "before": args.before and str(args.before)}}  # fmt: skip
    ws = Workspace.open(root / "ws")
    if args.reuse:
        names = sorted(ws.subject_names())
        done = {branches_of(r): r for r in sorted((ws.root / "runs" / "_shared" / "ji").iterdir())
                if any((r / "checkpoints").glob("*.pt"))}  # fmt: skip
        labels = [v for v in labels if v in done]
    else:
        names = store_crowd(ws, args.people, frames=args.frames, size=64)
    held = names[-args.holdout :]
    common = {"steps": args.steps, "batch": args.batch, "device": "cpu", "tensorboard": False,
              "eval_every": 0, "sample_every": 0, "checkpoint_every": args.steps,
              "threads": 2} | ({"norm": args.norm} if args.norm else {})  # fmt: skip
    table, pictures, warp, first = {}, {}, None, None
    for label in labels:
        if args.reuse:
            run, extra = done[label], {"reused": True}
        else:
            t = time.perf_counter()
            res = train_shared(ws, names, args.holdout, "tiny",
                               common | {"branches": VARIANTS[label]}, method="ji")  # fmt: skip
            run = res.run_dir
            extra = {"train_seconds": time.perf_counter() - t,
                     "untrained_psnr": res.initial["psnr"]}  # fmt: skip
        row, warp, first = evaluate(run, ws, held)
        table[label] = row | extra | {"run": str(run)}
        pictures[label] = first.output
        print(label, json.dumps(table[label]), flush=True)
    pictures = {k: pictures[k] for k in VARIANTS if k in pictures}
    assert warp is not None and first is not None
    table = {"warp only": warp, **{k: table[k] for k in VARIANTS if k in table}}
    out["results"] = table
    for k in ("flow", "texture", "warp only"):
        if "both" in table and k in table:
            out[f"both_minus_{k.split()[0]}_psnr_db"] = table["both"]["psnr"] - table[k]["psnr"]
    missing = [k for k in VARIANTS if k not in table]
    out["markdown"] = (
        f"Held-out people {', '.join(held)} ({first.truth.shape[0] * len(held)} frames; "
        f"frame 0 the source), {args.steps} steps each, {args.people - args.holdout} people "
        f"trained, generator norm {args.norm or 'default'}"
        + (f"; not run: {', '.join(missing)}" if missing else "")
        + ".\n\n"
        + markdown(table)
    )
    if before is not None:
        out["before"] = {"args": before.get("args"), "results": before.get("results"),
                         "markdown": before.get("markdown")}  # fmt: skip
        out["markdown"] += (
            "\n\nBefore ("
            + str(before["args"].get("norm") or "instance")
            + (" norm, the same budget):\n\n" + before["markdown"].split("\n\n", 1)[-1])
        )
    src = VideoStore(ws, ws.subject(held[0])["videos"][0]).read("frames", 0, 1)[0]
    sheet({"truth": first.truth, "warp only": first.warped, **pictures}, src,
          RESULTS / "ji-ablation-synthetic.png")  # fmt: skip
    out["peak_rss_mb"] = peak_rss_mb()
    out["load_after"] = os.getloadavg()
    print(write_result("ji_ablation", out))


if __name__ == "__main__":
    main()
