"""BDMM's ablation (Table 2 of its paper, in shape) on a synthetic crowd, on the CPU:
without DMM (plain convs), forward propagation only, backward only, bidirectional; and
the warp-only baseline (the source pre-warped to each driving frame, no network).

A crowd of ``--people`` synthetic people at 64 px (``ptx.training.crowd``), the last
``--holdout`` held out (never trained on). Four BDMM runs (``tiny`` preset, the same seed,
``--steps`` steps each, nothing else changed). On each held-out person, the one-shot
protocol (``ptx.perform.oneshot``): frame 0 is the source picture, frames 1.. drive and
are the targets, rendered recurrently in chunks of 8 (with the method's 2 frames of
context and lookahead). Reported per variant: mean PSNR and L1 over the held-out frames
and the temporal error (change from frame to frame against the real video's change).
Pose noise [methods.md §(c)6]: the same protocol with the right arm dropped from the
driving IUV at every 6th driven frame (frames 5, 11, 17, ...; each with clean neighbours):
PSNR at those frames against the real ones, where looking at the neighbouring frames (the
window) should help. A sample sheet (``results/bdmm-ablation-synthetic.png``): per row, a held-out frame;
columns: truth, warp only, then each variant.

    python benchmarks/bench_bdmm_ablation.py [--people 8] [--holdout 2] [--frames 24]
        [--steps 150] [--batch 2] [--workdir DIR] [--reuse] [--set KEY=VALUE ...]
        [--name bdmm_ablation]

``--set`` adds settings to every variant (e.g. ``--set ngf=16``); ``--reuse`` then evaluates
only the runs in --workdir trained with them. Writes benchmarks/results/<name>.json and
<name>-synthetic.png (``bdmm_ablation``: ``bdmm-ablation-synthetic.png``); the load
average before and after is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, crowd_arguments, machine, peak_rss_mb, write_result

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.perform.oneshot import render_self, temporal_error
from ptx.perform.render import StoreConditions, load_model, render_conditions
from ptx.training.crowd import store_crowd
from ptx.training.shared_run import train_shared

VARIANTS = {
    "no_dmm": {"dmm": "false"},
    "forward": {"direction": "forward"},
    "backward": {"direction": "backward"},
    "bidirectional": {},
}
PAPER = {  # Table 2 of the paper, FashionVideo: (PSNR, L1)
    "no_dmm": (21.802, 0.0435), "forward": (23.179, 0.0349),  # "w/o backward propagation"
    "backward": (23.715, 0.0327), "bidirectional": (24.071, 0.0302),  # "w/o forward"
}  # fmt: skip


RIGHT_ARM = (3, 16, 18, 20, 22)
"""DensePose parts of the right arm and hand (``ptx.body.parts``)."""
CORRUPT_EVERY = 6


class DroppedArm(StoreConditions):
    """A video's conditions with the right arm missing from the IUV of frames 5, 11, ..."""

    def chunk(self, start: int, stop: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        got = super().chunk(start, stop, names)
        if "iuv" in got:
            iuv = got["iuv"].copy()
            for t in range(start, stop):
                if t % CORRUPT_EVERY == CORRUPT_EVERY - 1:
                    arm = np.isin(iuv[t - start, ..., 0], RIGHT_ARM)
                    iuv[t - start][arm] = 0
            got["iuv"] = iuv
        return got


def corrupted_psnr(model, store, clean: np.ndarray) -> tuple[float, float, float]:
    """(PSNR at the corrupted frames, the clean render's PSNR at those frames, temporal
    error) of the render with a dropped arm; ``clean``: the clean render (n, H, W, 3)."""
    from ptx.perform.oneshot import set_source

    set_source(model, store, 0)
    cond = DroppedArm(store, 1, None)
    out = np.concatenate([c.rgb for c in render_conditions(model, cond, batch=8)])
    from ptx.nn.arrays import resize_array

    n = len(cond)
    truth = resize_array("frames", store.read("frames", 1, n + 1), model.frame)
    truth = truth.permute(0, 2, 3, 1).numpy()
    bad = [t for t in range(n) if t % CORRUPT_EVERY == CORRUPT_EVERY - 1]
    return (scores(out[bad], truth[bad])["psnr"], scores(clean[bad], truth[bad])["psnr"],
            temporal_error(out, truth))  # fmt: skip


BOOKKEEPING = {"batch", "device", "tensorboard", "eval_every", "sample_every",
               "checkpoint_every", "threads", "steps", "norm", "dmm", "direction"}  # fmt: skip
"""Settings a run of this ablation may carry besides the --set ones."""


def variant_of(run: Path, settings: dict[str, str]) -> str | None:
    """The ablation variant a trained run is, or None when it was not trained with exactly
    ``settings`` (the --set values) besides the variant's own and BOOKKEEPING."""
    import yaml

    cfg = yaml.safe_load((run / "config.yaml").read_text())
    flat = {**cfg.get("config", {}), **cfg.get("overrides", {})}
    if any(str(flat.get(k)) != v for k, v in settings.items()):
        return None
    if set(cfg.get("overrides", {})) - BOOKKEEPING - set(settings):
        return None
    if str(flat.get("dmm", True)).lower() == "false":
        return "no_dmm"
    return {"forward": "forward", "backward": "backward"}.get(
        flat.get("direction"), "bidirectional"
    )


def logged(run: Path) -> dict[str, float | None]:
    """A trained run's held-out evaluation PSNR before and after training, from its
    log.csv (None where it did not evaluate); its training time is not logged (None)."""
    import csv

    with open(run / "log.csv", newline="") as f:
        evals = [r for r in csv.DictReader(f) if r.get("psnr")]
    first = float(evals[0]["psnr"]) if evals and evals[0]["step"] == "0" else None
    last = float(evals[-1]["psnr"]) if evals and evals[-1]["step"] != "0" else None
    return {"train_seconds": None, "train_eval_psnr": last, "untrained_eval_psnr": first}


def scores(out: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean per-frame PSNR (dB) and L1 (in [0, 1] units) of uint8 (n, H, W, 3) videos."""
    d = out.astype(np.float64) / 255 - truth.astype(np.float64) / 255
    mse = np.maximum((d**2).mean(axis=(1, 2, 3)), 1e-10)
    return {"psnr": float((10 * np.log10(1 / mse)).mean()), "l1": float(np.abs(d).mean())}


def main() -> None:
    ap = argparse.ArgumentParser()
    crowd_arguments(ap, people=8, steps=150, norm=True)
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="Evaluate the runs already trained in --workdir (no training).",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every variant (repeatable), e.g. ngf=16",
    )
    ap.add_argument("--name", default="bdmm_ablation", help="the result's name")
    args = ap.parse_args()
    settings = dict(kv.split("=", 1) for kv in args.set)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="ptx-bdmm-"))
    out = {"machine": machine(), "load_before": os.getloadavg(),
           "args": vars(args) | {"workdir": str(root)}}  # fmt: skip
    ws = Workspace.open(root / "ws")
    if args.reuse:
        names = sorted(ws.subject_names())
        done = {variant_of(r, settings): r
                for r in sorted((ws.root / "runs" / "_shared" / "bdmm").iterdir())
                if any((r / "checkpoints").glob("*.pt"))}  # fmt: skip
        done.pop(None, None)
        old_path = RESULTS / f"{args.name}.json"
        old = json.loads(old_path.read_text()) if old_path.exists() else {}
    else:
        names = store_crowd(ws, args.people, frames=args.frames, size=64)
    held = names[-args.holdout :]
    stores = [VideoStore(ws, ws.subject(p)["videos"][0]) for p in held]
    common = {"steps": args.steps, "batch": args.batch, "device": "cpu", "tensorboard": False,
              "eval_every": 0, "sample_every": 0, "checkpoint_every": args.steps}  # fmt: skip
    if args.norm:
        common["norm"] = args.norm
    common |= settings
    renders: dict[str, list] = {}
    order = ("bidirectional", "no_dmm", "forward", "backward")  # the full model first
    labels = [v for v in order if not args.reuse or v in done]
    for label in labels:
        extra = VARIANTS[label]
        if args.reuse:
            run = done[label]
            same = old.get(label, {}).get("run") == str(run)
            kept = old[label] if same else logged(run)
            seconds, final, initial = (kept["train_seconds"], kept["train_eval_psnr"],
                                       kept["untrained_eval_psnr"])  # fmt: skip
        else:
            t = time.perf_counter()
            res = train_shared(ws, names, args.holdout, "tiny", common | extra, method="bdmm")
            seconds, run = time.perf_counter() - t, res.run_dir
            final, initial = res.final["psnr"], res.initial["psnr"]
        model = load_model(run, "cpu")
        rs = [render_self(model, s, batch=8) for s in stores]
        renders[label] = rs
        cat = lambda k, rs=rs: np.concatenate([getattr(r, k) for r in rs])  # noqa: E731
        row = scores(cat("output"), cat("truth"))
        row["temporal"] = float(np.mean([temporal_error(r.output, r.truth) for r in rs]))
        bad = [corrupted_psnr(model, s, r.output) for s, r in zip(stores, rs, strict=True)]
        row["corrupted_psnr"] = float(np.mean([b[0] for b in bad]))
        row["corrupted_drop_db"] = float(np.mean([b[1] - b[0] for b in bad]))
        row["corrupted_temporal"] = float(np.mean([b[2] for b in bad]))
        row |= {"train_seconds": seconds, "train_eval_psnr": final,
                "untrained_eval_psnr": initial, "run": str(run)}  # fmt: skip
        out[label] = row
        print(label, json.dumps(row), flush=True)
    rs = next(iter(renders.values()))
    cat = lambda k: np.concatenate([getattr(r, k) for r in rs])  # noqa: E731
    out["warp_only"] = scores(cat("warped"), cat("truth")) | {
        "temporal": float(np.mean([temporal_error(r.warped, r.truth) for r in rs]))}  # fmt: skip
    out["frames"] = int(len(cat("truth")))
    # the sample sheet: 4 frames of the first held-out person
    r0 = rs[0]
    picks = np.linspace(0, len(r0.truth) - 1, 4).round().astype(int)
    ran = [k for k in VARIANTS if k in renders]
    cols = [r0.truth, r0.warped, *(renders[k][0].output for k in ran)]
    sheet = np.concatenate([np.concatenate([c[i] for c in cols], 1) for i in picks], 0)
    sheet = cv2.resize(sheet, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    sheet_name = f"{args.name.replace('_', '-')}-synthetic.png"
    cv2.imwrite(str(RESULTS / sheet_name), sheet[..., ::-1])
    out["sheet"] = sheet_name
    out["sheet_columns"] = "truth, warp only, " + ", ".join(ran)
    rows = ["| variant | PSNR dB | L1 | temporal error | PSNR at dropped-arm frames "
            "| drop there (dB) | paper PSNR | paper L1 |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for k in ("warp_only", *ran):
        r, p = out[k], PAPER.get(k, ("-", "-"))
        cp = f"{r['corrupted_psnr']:.2f}" if "corrupted_psnr" in r else "-"
        dp = f"{r['corrupted_drop_db']:.3f}" if "corrupted_drop_db" in r else "-"
        rows.append(f"| {k} | {r['psnr']:.2f} | {r['l1']:.4f} | {r['temporal']:.4f} | {cp} "
                    f"| {dp} | {p[0]} | {p[1]} |")  # fmt: skip
    out["load_after"] = os.getloadavg()
    set_text = "".join(f", {k} {v}" for k, v in settings.items())
    out["peak_rss_mb"] = peak_rss_mb()
    out["markdown"] = (
        f"{args.steps} steps per variant, {args.people - args.holdout} people trained, "
        f"{args.holdout} held out ({out['frames']} frames), 64 px, generator norm "
        f"{args.norm or 'default'}{set_text}, load "
        f"{out['load_before'][0]:.1f} before / {out['load_after'][0]:.1f} after. Paper: "
        "FashionVideo, 256 px, 50k steps."
        + (f" Not run: {', '.join(k for k in VARIANTS if k not in ran)}." if len(ran) < 4 else "")
        + "\n\n"
        + "\n".join(rows)
        + "\n"
    )
    print(out["markdown"])
    print(write_result(args.name, out))


if __name__ == "__main__":
    main()
