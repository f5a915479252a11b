"""`ptx prepare` end to end on a real 1080p clip at 512 px: frames/s of the command (wall
clock, process start included), each stage's share, and bare MediaPipe pose on the same
analysis frames measured in the same run (the floor no preparation can beat: it is one
stage's inference alone). Each prepare runs twice, interleaved: one stage at a time
(``PTX_STAGE_LANES=1``; or with ``--before TREE`` the code before this issue's work) and
by default (independent stages in two lanes), and the
command's imports are timed alone. The command's CPU seconds (all its threads) over the
cores give ``cpu_floor_fps``: the rate no arrangement of its work on those cores can beat. Also the body fit as the stage fits it, with the code
before (``--before``) and this code, interleaved, each in a fresh process as in a prepare:
its seconds, reprojection error (pixels) and mask IoU on the real clip, and keypoint
error, IUV part agreement and silhouette IoU on a synthetic subject.

The profile of what dominates: one more prepare on one lane, the command as users run it
with each stage's wall and CPU seconds (all the process's threads while that stage ran)
noted as it ends; bare MediaPipe's CPU seconds beside it. From those, ``budget``: the CPU
seconds a prepare may spend at the goal's rate on this machine's cores, what MediaPipe
alone takes of it, and how far the other stages are from fitting in the rest.

    python benchmarks/bench_prepare.py [--source CLIP] [--repeats 2] [--skip-fit]
"""

from __future__ import annotations

import argparse
import json
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
from bench_keypoints import bare_mediapipe
from common import machine, write_result

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.pipeline.catalog import CATALOG

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real" / "dance_basketball.mp4"


FIT_WORKER = """
import json, sys, time
import numpy as np
from ptx.body.fit import FitConfig, fit_bodies, fit_body
from ptx.body.open_model import open_body_model
from ptx.body.render import render_sequence
from ptx.body.silhouette import silhouette_iou
from ptx.body.synth import SynthConfig, synth_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace

store = VideoStore(Workspace(sys.argv[1]), sys.argv[2])
kp = store.read("keypoints")[:, :25].astype(np.float32)
mask, cam = store.read("mask"), store.read("body/camera")
n, hw, model = len(kp), mask.shape[1:3], open_body_model()
spans = [(max(0, a - 8), min(n, a + 72)) for a in range(0, n, 64)]
pick = np.unique(np.linspace(0, n - 1, min(n, 32)).round().astype(int))
t0, c0 = time.perf_counter(), time.process_time()
shape = fit_body(model, kp[pick], hw, mask[pick], cam[pick], FitConfig(), None, False)
t1 = time.perf_counter()
seqs = [(kp[a:b], mask[a:b], cam[a:b]) for a, b in spans]
try:  # as the stage fits: batches of two windows, two at once (fit.workers)
    from ptx.body.fit import fit_batches
    fits = [f for b in fit_batches(model, [seqs[i:i + 2] for i in range(0, len(seqs), 2)], hw,
                                   FitConfig(), shape.betas, True, "cpu", 2) for f in b]
except ImportError:  # the code before: batches of four on one thread
    fits = [f for i in range(0, len(seqs), 4)
            for f in fit_bodies(model, seqs[i:i + 4], hw, FitConfig(), shape.betas, True)]
out = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
       "shape_seconds": t1 - t0, "frames_fitted": sum(b - a for a, b in spans)}
if sys.argv[3] == "1":
    ious = []
    for f, (a, b) in zip(fits, spans):
        r = render_sequence(model, f.betas, f.pose, f.transl, f.camera, hw, ("mask",))
        ious.append(silhouette_iou(r["mask"], mask[a:b]))
    out["reprojection_error_px"] = float(np.nanmean(np.concatenate([f.error for f in fits])))
    out["mask_iou"] = float(np.concatenate(ious).mean())
    sub = synth_subject(SynthConfig(motion="dance", frames=64, size=512, seed=3))
    skp = sub.keypoints.copy()
    skp[..., :2] += np.random.default_rng(0).normal(0, 0.005 * 512, skp[..., :2].shape)
    fit = fit_body(model, skp, 512, sub.mask)
    r = render_sequence(model, fit.betas, fit.pose, fit.transl, fit.camera, 512, ("iuv", "mask"))
    person = sub.mask > 0
    err = np.linalg.norm(fit.keypoints[..., :2] - sub.keypoints[..., :2], axis=-1).mean()
    out["synthetic"] = {
        "keypoint_error_fraction": float(err / 512),
        "part_agreement": float((r["iuv"][..., 0] == sub.iuv[..., 0])[person].mean()),
        "silhouette_iou": float(silhouette_iou(r["mask"], sub.mask).mean()),
    }
print(json.dumps(out))
"""
"""The stage's fit of a prepared video (the shape on 32 frames spread over it, then
windows of 64 frames with 8 of context, four per batch), in a fresh process as in
``ptx prepare`` (its first-use costs included), then its quality when asked."""


PROFILE_WORKER = """
import json, sys, time
import ptx.pipeline.runner as runner
from ptx.cli.main import run

seen, inner = {}, runner._run_stage

def timed(store, stage, *args, **kwargs):
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        return inner(store, stage, *args, **kwargs)
    finally:
        seen[stage] = [time.perf_counter() - t0, time.process_time() - c0]

runner._run_stage = timed
out, sys.argv = sys.argv[1], ["ptx", *sys.argv[2:]]
code = run()
with open(out, "w") as f:
    json.dump({"stages": seen, "cpu_s": time.process_time(), "code": code}, f)
"""
"""``ptx prepare`` (``ptx.cli.main.run``, as the command calls it) with each stage's wall and
CPU seconds written to the file named first; one lane, so each stage's CPU is its own."""


def profile_prepare(source: Path, ws: Path) -> dict:
    """Stage -> {wall_s, cpu_s} of a one-lane prepare of ``source``, and the command's
    wall and CPU seconds (process start included)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PTX_STAGE_LANES": "1"}
    out = ws.parent / "profile.json"
    wall, cpu = child_seconds(["-c", PROFILE_WORKER, str(out), "prepare", str(source), "-w",
                               str(ws), "--size", "512"], env)  # fmt: skip
    got = json.loads(out.read_text())
    if got["code"]:
        raise SystemExit(f"the profiled prepare failed with exit code {got['code']}")
    stages = {s: {"wall_s": w, "cpu_s": c} for s, (w, c) in got["stages"].items()}
    return {"wall_s": wall, "cpu_s": cpu, "stages": stages}


def child_seconds(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (all its threads) of ``python -P ARGS`` run to its end."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-P", *args], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime


def budget(n: int, cores: int, goal: float, profile: dict, mp_cpu: float) -> dict:
    """What the goal's rate leaves for the work: CPU seconds at ``goal`` frames/s on
    ``cores``, bare MediaPipe's share of them, and the other stages' CPU against the rest."""
    total = n / goal * cores
    keypoints = profile["stages"]["keypoints"]["cpu_s"]
    others = profile["cpu_s"] - keypoints
    left = total - mp_cpu
    return {
        "cpu_s_at_goal": total,
        "bare_mediapipe_cpu_s": mp_cpu,
        "keypoints_stage_cpu_s": keypoints,
        "rest_of_prepare_cpu_s": others,
        "left_for_the_rest_cpu_s": left,
        "rest_cut_needed": others / left if left > 0 else float("inf"),
    }


def markdown(out: dict) -> str:
    """The goal, the measured rates and the one-lane profile as Markdown tables."""
    base, prof, bud = out["baseline_run"], out["profile"], out["budget"]
    lines = [
        f"`ptx prepare` of `{out['source']}` ({out['frames']} frames) at {out['size']} px, "
        f"wall clock of the command (process start included), median of the runs.",
        "",
        "| figure | this run | goal |",
        "|---|---|---|",
        f"| prepare, frames/s (two lanes, the default) | {out['prepare_fps']:.1f} | "
        f"{out['goal_fps']} |",
        f"| {out['baseline']}, frames/s | {base['prepare_fps']:.1f} | |",
        f"| CPU floor (CPU seconds over the cores), frames/s | {out['cpu_floor_fps']:.1f} | |",
        f"| bare MediaPipe pose on the same frames, one thread, frames/s | "
        f"{out['bare_mediapipe_fps']:.1f} | |",
        f"| prepare / bare MediaPipe (time ratio) | {out['prepare_vs_bare_mediapipe']:.2f} | |",
        "",
        f"What dominates (one lane, {prof['wall_s']:.1f} s wall, {prof['cpu_s']:.1f} CPU s):",
        "",
        "| stage | wall s | CPU s | CPU share |",
        "|---|---|---|---|",
    ]
    for stage, t in sorted(prof["stages"].items(), key=lambda kv: -kv[1]["cpu_s"]):
        lines.append(f"| {stage} | {t['wall_s']:.2f} | {t['cpu_s']:.2f} | "
                     f"{t['cpu_s'] / prof['cpu_s']:.0%} |")  # fmt: skip
    lines += [
        "",
        f"At {out['goal_fps']} frames/s a prepare of these frames may spend "
        f"{bud['cpu_s_at_goal']:.1f} CPU s on {out['machine']['cores']} cores; bare "
        f"MediaPipe takes {bud['bare_mediapipe_cpu_s']:.1f} of them, leaving "
        f"{bud['left_for_the_rest_cpu_s']:.1f} for everything else, which takes "
        f"{bud['rest_of_prepare_cpu_s']:.1f} ({bud['rest_cut_needed']:.1f}x too much).",
        "",
    ]
    fit = out.get("fit", {}).get("after")
    if fit:
        kept = f", {out['fit']['note']}" if "note" in out["fit"] else ""
        syn = fit["synthetic"]
        lines += [
            f"Body fit quality{kept}: reprojection error {fit['reprojection_error_px']:.2f} px, "
            f"mask IoU {fit['mask_iou']:.3f} on the clip; on a synthetic subject IUV part "
            f"agreement {syn['part_agreement']:.3f}, silhouette IoU {syn['silhouette_iou']:.3f}.",
            "",
        ]
    return "\n".join(lines)


def fit_in(tree: Path, ws: Path, video: str, quality: bool) -> dict:
    """The fit worker's figures with ``tree``'s ptx."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-P", "-c", FIT_WORKER, str(ws), video, str(int(quality))],
                          env=env, check=True, capture_output=True, text=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def fit_variants(ws: Path, video: str, before: Path, repeats: int) -> dict:
    """The fit of the real clip with the code before (``before``) and this code, each
    ``repeats`` times interleaved in fresh processes: seconds (wall, and CPU), the
    reprojection error (pixels) and mask IoU on the clip, and on a synthetic subject the
    keypoint error, IUV part agreement and silhouette IoU."""
    out: dict = {"before_tree": str(before)}
    trees = {"before": before, "after": ROOT}
    for i in range(repeats):
        for name, tree in trees.items():
            got = fit_in(tree, ws, video, quality=i == 0)
            entry = out.setdefault(name, {"seconds": [], "cpu_seconds": [], "shape_seconds": []})
            for key in ("seconds", "cpu_seconds", "shape_seconds"):
                entry[key].append(got.pop(key))
            entry.update(got)
    for name in trees:
        for key in ("seconds", "cpu_seconds", "shape_seconds"):
            out[name][f"{key}_median"] = statistics.median(out[name][key])
    out["frames_fitted"] = out["after"].pop("frames_fitted")
    out["before"].pop("frames_fitted", None)
    out["speedup"] = out["before"]["seconds_median"] / out["after"]["seconds_median"]
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
    wall, cpu = child_seconds(["-m", "ptx.cli.main", "prepare", str(source), "-w", str(ws),
                               "--size", "512", *extra], env)  # fmt: skip
    w = Workspace(ws)
    store = VideoStore(w, w.video_ids()[0])
    return wall, {"_cpu": cpu, **{s: store.record(s).wall_time for s in CATALOG}}


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
        mp_runs = []
        for _ in range(args.repeats):
            c0 = time.process_time()
            mp_runs.append((bare_mediapipe(frames), time.process_time() - c0))
        t_mp = statistics.median(t for t, _ in mp_runs)
        profile = profile_prepare(args.source, tmp / "profiled")
        t_imports = startup_seconds(3)
        wall, one_wall = statistics.median(walls), statistics.median(one_walls)
        cpu = statistics.median(st.pop("_cpu") for st in stages)
        one_cpu = statistics.median(st.pop("_cpu") for st in one_stages)
        usable = len(os.sched_getaffinity(0))
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
            "prepare_cpu_s": cpu,
            "baseline_cpu_s": one_cpu,
            # the command's CPU seconds (all its threads) over the cores: no packing of the
            # stages on this machine's cores can end sooner
            "cpu_floor_fps": n / (cpu / usable),
            "stage_seconds": per_stage,
            "stage_seconds_sum": sum(per_stage.values()),
            "imports_s": t_imports,
            "imports_share": t_imports / wall,
            "bare_mediapipe_fps": n / t_mp,
            "prepare_vs_bare_mediapipe": t_mp / wall,
            "profile": profile,
            "budget": budget(n, usable, 20, profile, statistics.median(c for _, c in mp_runs)),
        })  # fmt: skip
        print(f"prepare {n / wall:.1f} frames/s ({wall:.1f} s; baseline {one_wall:.1f} s), "
              f"bare MediaPipe {n / t_mp:.1f} frames/s; stages {per_stage}", flush=True)  # fmt: skip
        if args.skip_fit and kept_fit:
            out["fit"] = {**kept_fit, "note": "kept from the previous run (fit code unchanged)"}
        else:
            out["fit"] = fit_variants(tmp / "ws0", w.video_ids()[0], before, args.repeats)
        out["load_average_end"] = os.getloadavg()
        out["markdown"] = markdown({**out, "machine": machine()})
        path = write_result("prepare", out)
        print(f"fit: {out['fit']['before']['seconds_median']:.1f} s -> "
              f"{out['fit']['after']['seconds_median']:.1f} s -> {path}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
