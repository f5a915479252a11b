"""`ptx prepare` end to end on a real 1080p clip at 512 px: frames/s of the command (wall
clock, process start included), each stage's share, and bare MediaPipe pose on the same
analysis frames measured in the same run (the floor no preparation can beat: it is one
stage's inference alone). Each prepare runs twice, interleaved: one stage at a time
(``PTX_STAGE_LANES=1``; or with ``--before TREE`` the code before this issue's work) and
by default (independent stages in two lanes), and the
command's imports are timed alone. Also the body fit before and after its rework, in the same run:
its seconds, reprojection error (pixels) and mask IoU on the real clip, and keypoint
error, IUV part agreement and silhouette IoU on a synthetic subject (the "before" is the
previous fit: each window alone, the silhouette's nearest vertex searched with gradient).

    python benchmarks/bench_prepare.py [--source CLIP] [--repeats 2] [--skip-fit]
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
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_keypoints import bare_mediapipe
from common import write_result

from ptx.body import silhouette as S
from ptx.body.fit import FitConfig, fit_bodies, fit_body
from ptx.body.open_model import open_body_model
from ptx.body.render import render_sequence
from ptx.body.silhouette import silhouette_iou
from ptx.body.synth import SynthConfig, synth_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.pipeline.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "dance_basketball.mp4"


def old_silhouette_frames(proj, tg, sigma=0.03):
    """The previous silhouette term: nearest vertex by a differentiable minimum over the
    full (frames, outline points, vertices) distance matrix."""
    h, w = tg.shape if tg.shape != (0, 0) else (tg.size, tg.size)
    extent = proj.new_tensor([w, h]) if h != w else tg.size
    grid = (proj / extent * 2 - 1)[:, :, None, :]
    d_out = torch.nn.functional.grid_sample(tg.dist, grid, mode="bilinear",
                                            padding_mode="border", align_corners=False)  # fmt: skip
    outside = S.gmof(d_out[:, 0, :, 0], sigma).mean(1)
    a, b = tg.outline / tg.size, proj / tg.size
    d2 = (a * a).sum(-1)[:, :, None] + (b * b).sum(-1)[:, None, :] - 2 * a @ b.transpose(1, 2)
    nearest = d2.min(dim=2).values.clamp_min(1e-12).sqrt()
    ow = tg.outline_w
    return outside + (S.gmof(nearest, sigma) * ow).sum(1) / ow.sum(1).clamp_min(1)


def fit_variants(store: VideoStore, repeats: int) -> dict:
    """The fit of the real clip's first 4 windows (as the stage fits them), before and
    after, interleaved; and the synthetic subject."""
    import ptx.body.fit as F

    kp = store.read("keypoints")[:, :25].astype(np.float32)
    mask, cam, betas = store.read("mask"), store.read("body/camera"), store.read("body/shape")
    hw = mask.shape[1:3]
    spans = [(max(0, a - 8), min(len(kp), a + 72)) for a in range(0, min(len(kp), 256), 64)]
    seqs = [(kp[a:b], mask[a:b], cam[a:b]) for a, b in spans]
    model = open_body_model()
    frames = sum(b - a for a, b in spans)

    def before():
        with mock.patch.object(F, "silhouette_frames", old_silhouette_frames):
            return [fit_body(model, k, hw, m, c, betas=betas) for k, m, c in seqs]

    def after():
        return fit_bodies(model, seqs, hw, FitConfig(), betas)

    def real_quality(fits):
        err = float(np.nanmean(np.concatenate([f.error for f in fits])))
        ious = []
        for f, (_, m, _) in zip(fits, seqs):
            r = render_sequence(model, f.betas, f.pose, f.transl, f.camera, hw, ("mask",))
            ious.append(silhouette_iou(r["mask"], m))
        return {"reprojection_error_px": err, "mask_iou": float(np.concatenate(ious).mean())}

    out: dict = {"frames_fitted": frames, "windows": len(spans)}
    for name, fn in (("before", before), ("after", after)):
        out[name] = {"seconds": [], **real_quality(fn())}
    for _ in range(repeats):
        for name, fn in (("before", before), ("after", after)):
            t0 = time.perf_counter()
            fn()
            out[name]["seconds"].append(time.perf_counter() - t0)
    for name in ("before", "after"):
        out[name]["seconds_median"] = statistics.median(out[name]["seconds"])
    out["speedup"] = out["before"]["seconds_median"] / out["after"]["seconds_median"]
    sub = synth_subject(SynthConfig(motion="dance", frames=64, size=512, seed=3))
    rng = np.random.default_rng(0)
    skp = sub.keypoints.copy()
    skp[..., :2] += rng.normal(0, 0.005 * 512, skp[..., :2].shape)
    for name, patch in (("before", old_silhouette_frames), ("after", S.silhouette_frames)):
        with mock.patch.object(F, "silhouette_frames", patch):
            fit = fit_body(model, skp, 512, sub.mask)
        r = render_sequence(model, fit.betas, fit.pose, fit.transl, fit.camera, 512,
                            ("iuv", "mask"))  # fmt: skip
        person = sub.mask > 0
        err = np.linalg.norm(fit.keypoints[..., :2] - sub.keypoints[..., :2], axis=-1).mean()
        out[name]["synthetic"] = {
            "keypoint_error_fraction": float(err / 512),
            "part_agreement": float((r["iuv"][..., 0] == sub.iuv[..., 0])[person].mean()),
            "silhouette_iou": float(silhouette_iou(r["mask"], sub.mask).mean()),
        }
    return out


def run_prepare(source: Path, ws: Path, lanes: int | None, tree: Path = ROOT,
                extra: tuple[str, ...] = ()) -> tuple[float, dict]:  # fmt: skip
    """Wall seconds of `ptx prepare` as a subprocess (``lanes``: PTX_STAGE_LANES, None for
    the default; ``tree``: the checkout whose ptx runs) and each stage's seconds from its
    record."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PTX_STAGE_LANES", None)
    if lanes is not None:
        env["PTX_STAGE_LANES"] = str(lanes)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ptx.cli.main", "prepare", str(source),
                    "-w", str(ws), "--size", "512", *extra], env=env, check=True,
                   capture_output=True)  # fmt: skip
    wall = time.perf_counter() - t0
    w = Workspace(ws)
    store = VideoStore(w, w.video_ids()[0])
    return wall, {s: store.record(s).wall_time for s in CATALOG}


def startup_seconds(repeats: int) -> float:
    """Median seconds for the prepare command's imports alone (process start included)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "import ptx.cli.main, ptx.cli.prepare, ptx.api.core, ptx.pipeline.registry"
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, default=REAL)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--before", type=Path,
                    help="a checkout of the code before (e.g. `git archive` of the base "
                         "commit): its prepare is run interleaved as the baseline instead "
                         "of this code on one lane")  # fmt: skip
    ap.add_argument("--skip-fit", action="store_true",
                    help="keep the fit comparison of the previous results file (the fit code "
                         "did not change) instead of measuring it again")  # fmt: skip
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-prepare-"))
    previous = ROOT / "benchmarks" / "results" / "prepare.json"
    kept_fit = json.loads(previous.read_text()).get("fit") if previous.is_file() else None
    out: dict = {"source": args.source.name, "size": 512, "load_average_start": os.getloadavg()}
    try:
        walls, stages, one_walls, one_stages = [], [], [], []
        before = args.before or ROOT
        for tree in {before, ROOT}:  # warm-up (numba's cache of each tree)
            run_prepare(args.source, tmp / "warm", None, tree, ("--max-frames", "16"))
            shutil.rmtree(tmp / "warm")
        for i in range(args.repeats):  # the baseline and this code interleaved
            wall, st = run_prepare(args.source, tmp / f"one{i}", None if args.before else 1,
                                   before)  # fmt: skip
            one_walls.append(wall)
            one_stages.append(st)
            wall, st = run_prepare(args.source, tmp / f"ws{i}", None)
            walls.append(wall)
            stages.append(st)
        w = Workspace(tmp / "ws0")
        store = VideoStore(w, w.video_ids()[0])
        n = store.read("keypoints").shape[0]
        frames = store.read("frames_analysis")
        t_mp = statistics.median(bare_mediapipe(frames) for _ in range(args.repeats))
        t_imports = startup_seconds(3)
        wall, one_wall = statistics.median(walls), statistics.median(one_walls)
        per_stage = {s: statistics.median(st[s] for st in stages) for s in stages[0]}
        per_stage_one = {s: statistics.median(st[s] for st in one_stages) for s in stages[0]}
        total = sum(per_stage_one.values())
        out.update({
            "frames": n,
            "prepare_wall_s": wall,
            "prepare_fps": n / wall,
            "goal_fps": 20,
            "baseline": "the code before" if args.before else "this code on one lane",
            "baseline_run": {
                "prepare_wall_s": one_wall,
                "prepare_fps": n / one_wall,
                "stage_seconds": per_stage_one,
                "stage_share": {s: v / one_wall for s, v in per_stage_one.items()},
                "outside_stages_share": 1 - total / one_wall,
            },
            "speedup_vs_baseline": one_wall / wall,
            "stage_seconds": per_stage,
            "stage_seconds_sum": sum(per_stage.values()),
            "imports_s": t_imports,
            "imports_share": t_imports / wall,
            "bare_mediapipe_fps": n / t_mp,
            "prepare_vs_bare_mediapipe": t_mp / wall,
        })  # fmt: skip
        print(f"prepare {n / wall:.1f} frames/s ({wall:.1f} s; baseline {one_wall:.1f} s), "
              f"bare MediaPipe {n / t_mp:.1f} frames/s; stages {per_stage}", flush=True)  # fmt: skip
        if args.skip_fit and kept_fit:
            out["fit"] = {**kept_fit, "note": "kept from the previous run (fit code unchanged)"}
        else:
            out["fit"] = fit_variants(store, args.repeats)
        out["load_average_end"] = os.getloadavg()
        path = write_result("prepare", out)
        print(f"fit: {out['fit']['before']['seconds_median']:.1f} s -> "
              f"{out['fit']['after']['seconds_median']:.1f} s -> {path}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
