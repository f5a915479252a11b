"""CLI speed and machine sharing: `ptx transfer` and `ptx render` as subprocesses against
the model-only render rate measured in the same run (same thread count, same memory
format), for the tiny and small presets, on a real clip prepared at 512 px; then
transfer, training and prepare with one other CPU-bound process running, with the thread
count ptx chooses from the free cores (the default) and with torch's own default (all
cores, ``PTX_THREADS`` = cores), against their quiet rates.

    python benchmarks/bench_sharing.py [--source CLIP] [--frames 150] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
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
REAL = ROOT.parent / "shared" / "data" / "real" / "dance_basketball.mp4"
PTX = [sys.executable, "-m", "ptx.cli.main"]
FAST_FIT = ["--set", "fit.rigid_iters=20", "--set", "fit.pose_iters=40",
            "--set", "fit.silhouette_iters=0"]  # fmt: skip
HOG = "import time\nend = time.time() + 3600\nwhile time.time() < end: pass\n"


def env(threads: int | None = None) -> dict[str, str]:
    e = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    e.pop("PTX_THREADS", None)
    if threads:
        e["PTX_THREADS"] = str(threads)
    return e


def ptx(*args: str, threads: int | None = None) -> tuple[str, float]:
    """Run ``ptx ARGS``; its output and wall time (process start included)."""
    t0 = time.perf_counter()
    got = subprocess.run([*PTX, *args], env=env(threads), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if got.returncode:
        raise SystemExit(f"ptx {' '.join(args)} failed:\n{got.stderr[-3000:]}")
    return got.stdout + got.stderr, wall


def rate(text: str, unit: str = "frames/s") -> float:
    """The last ``N frames/s`` (or steps/s) figure a command printed."""
    return float(re.findall(rf"([0-9.]+) {re.escape(unit)}", text)[-1])


def model_rate(ws: Path, subject: str, run: str, threads: int) -> float:
    """Model-only frames/s (``render_fps``: the conditions of the subject's own frames read
    from its store, as `ptx score` measures it), in a fresh process with ``threads``."""
    code = (
        "from pathlib import Path\nfrom ptx.cache.workspace import Workspace\n"
        "from ptx.perform.render import load_model, resolve_run, render_fps, StoreConditions\n"
        "from ptx.perform.transfer import subject_store\n"
        f"ws = Workspace(Path({str(ws)!r}))\n"
        f"m = load_model(resolve_run(ws, {subject!r}, {run!r}))\n"
        f"src = StoreConditions(subject_store(ws, {subject!r}))\n"
        "render_fps(m, src, 16)\n"
        "print(render_fps(m, src, 96), 'frames/s')\n"
    )
    got = subprocess.run([sys.executable, "-c", code], env=env(threads), capture_output=True,
                         text=True, check=True)  # fmt: skip
    return rate(got.stdout)


def score_rate(ws: str, run: str, tmp: Path, threads: int) -> float:
    """`ptx score`'s render frames/s of the held-out frames (its JSON's ``fps``)."""
    path = tmp / "score.json"
    ptx("score", "--subject", "tgt", "--run", run, "-w", ws, "--json", str(path),
        threads=threads)  # fmt: skip
    data = json.loads(path.read_text())
    return float(data.get("fps") or data.get("results", {})["fps"])


def median(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", type=Path, default=REAL)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--share-repeats", type=int, default=3)
    ap.add_argument("--presets", nargs="*", default=["tiny", "small"])
    ap.add_argument("--keep", type=Path, help="Work (and keep) in this folder; reuse it.")
    ap.add_argument("--skip-sharing", action="store_true",
                    help="only the CLI rates against the model (keep the previous sharing part)")  # fmt: skip
    args = ap.parse_args()
    # read before anything is written: each preset's figures are written as they come
    path = ROOT / "benchmarks" / "results" / "sharing.json"
    previous = json.loads(path.read_text()) if path.is_file() else {}
    kept = {k: v for k, v in previous.get("sharing", {}).items() if k != "note"}
    if args.skip_sharing and not kept:
        raise SystemExit(f"--skip-sharing: {path} holds no sharing figures to keep")
    from ptx.devices import cpu_threads, usable_cores

    cores = usable_cores()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="ptx-bench-sharing-"))
    tmp.mkdir(parents=True, exist_ok=True)
    ws = str(tmp / "ws")
    out: dict = {"cores": cores, "source": args.source.name, "frames": args.frames,
                 "load_average_start": os.getloadavg()[0]}  # fmt: skip
    try:
        target = tmp / "target.mp4"
        if not target.is_file():
            ptx("synth", str(target), "--frames", "48", "--width", "288", "--height", "512")
        gt = target.with_name("target_gt") / "openpose"
        ptx("prepare", str(target), "-w", ws, "-s", "tgt", "--keypoints", f"openpose:{gt}",
            *FAST_FIT)  # fmt: skip
        src = ["--source", str(args.source), "--max-frames", str(args.frames)]
        # the source prepared at 512 px once (a transfer's own preparation is then cached)
        ptx("prepare", str(args.source), "-w", ws, "--max-frames", str(args.frames), "--size",
            "512")  # fmt: skip
        runs = {}
        for preset in args.presets:
            done = tmp / f"run-{preset}.txt"
            if not done.is_file():
                ptx("train", "-w", ws, "--subject", "tgt", "--preset", preset, "--set",
                    "steps=1", "--set", "uv_warmup_steps=0", "--set", "batch=1")  # fmt: skip
                name = sorted(p.name for p in (tmp / "ws/runs/tgt/d2g").iterdir())[-1]
                done.write_text(name)
            runs[preset] = done.read_text()
        threads = cpu_threads()  # what ptx chooses now; every rate below uses it
        out["threads"] = threads
        out["presets"] = {}
        for preset, run in runs.items():
            o = str(tmp / f"{preset}.mp4")
            tr = ["transfer", *src, "--target", "tgt", "--run", run, "-w", ws, "-o", o]
            rd = ["render", "--subject", "tgt", "--run", run, "-w", ws, "-o", o, "--frames", "all"]
            ptx(*tr, threads=threads)  # the source's stages for this target, once
            model = median(lambda p=preset, r=run: model_rate(Path(ws), "tgt", r, threads),
                           args.repeats)  # fmt: skip
            t_runs = [ptx(*tr, threads=threads) for _ in range(args.repeats)]
            r_runs = [ptx(*rd, threads=threads) for _ in range(args.repeats)]
            transfer_fps = statistics.median(rate(t) for t, _ in t_runs)
            render_fps = statistics.median(rate(t) for t, _ in r_runs)
            score_fps = statistics.median(score_rate(ws, run, tmp, threads)
                                          for _ in range(args.repeats))  # fmt: skip
            out["presets"][preset] = {
                "model_only_fps": model,
                "transfer_fps": transfer_fps,
                "transfer_vs_model": transfer_fps / model,
                "transfer_wall_s": statistics.median(w for _, w in t_runs),
                "render_fps": render_fps,
                "render_vs_model": render_fps / model,
                "score_fps": score_fps,
                "score_vs_model": score_fps / model,
                "load_average": os.getloadavg()[0],
            }
            print(f"{preset}: model {model:.1f}, transfer {transfer_fps:.1f}, render "
                  f"{render_fps:.1f}, score {score_fps:.1f} frames/s", flush=True)  # fmt: skip
            write_result("sharing", out)  # what is measured so far
        for preset, figures in previous.get("presets", {}).items():  # presets not run now
            if preset not in out["presets"]:
                out["presets"][preset] = {**figures, "note": figures.get(
                    "note", "kept from the previous run (not measured in this one)")}  # fmt: skip
        if args.skip_sharing:
            out["sharing"] = {**kept, "note": "kept from the previous run"}
        else:
            out["sharing"] = sharing(ws, tmp, target, gt, src, runs[args.presets[0]], cores,
                                     args.share_repeats)  # fmt: skip
        out["load_average_end"] = os.getloadavg()[0]
        path = write_result("sharing", out)
        print(f"-> {path}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def sharing(ws: str, tmp: Path, target: Path, gt: Path, src: list[str], run: str, cores: int,
            repeats: int) -> dict:  # fmt: skip
    """Each job's rate alone, then beside one CPU-bound process: with ptx's thread choice
    (auto) and with all cores' worth of threads (torch's default)."""
    o = str(tmp / "share.mp4")
    jobs = {
        "transfer": lambda t: rate(ptx("transfer", *src, "--target", "tgt", "--run", run,
                                       "-w", ws, "-o", o, threads=t)[0]),
        "train": lambda t: rate(ptx("train", "-w", ws, "--subject", "tgt", "--preset", "tiny",
                                    "--set", "steps=12", "--set", "uv_warmup_steps=0",
                                    threads=t)[0], "steps/s"),
        "prepare": lambda t: 48 / ptx("prepare", str(target), "-w", ws, "-s", "tgt",
                                      "--keypoints", f"openpose:{gt}", "--force", "crop",
                                      *FAST_FIT, threads=t)[1],
    }  # fmt: skip
    res: dict = {}
    for name, job in jobs.items():
        quiet = median(lambda j=job: j(None), repeats)
        hog = subprocess.Popen([sys.executable, "-c", HOG])
        try:
            time.sleep(8)  # let the load average see it
            load = os.getloadavg()[0]
            auto = median(lambda j=job: j(None), repeats)
            full = median(lambda j=job: j(cores), repeats)
        finally:
            hog.kill()
            hog.wait()
        res[name] = {"quiet": quiet, "shared_auto": auto, "shared_all_cores": full,
                     "kept_auto": auto / quiet, "kept_all_cores": full / quiet,
                     "load_average_shared": load}  # fmt: skip
        print(f"{name}: quiet {quiet:.2f}, shared auto {auto:.2f} ({auto / quiet:.0%}), all "
              f"cores {full:.2f} ({full / quiet:.0%})", flush=True)  # fmt: skip
        time.sleep(5)
    return res


if __name__ == "__main__":
    main()
