"""Comparison benchmark: D2G-Net, Textured Neural Avatars and Everybody Dance Now at the
``tiny`` preset on the CPU, the same steps and seed for each, scored on the same held-out
tail (``ptx compare``), beside D2G-Net's Table 1.

Two subjects:

- ``synthetic``: ``ptx synth`` dance, seed 0, 240 frames at 128 px (clothes whose wrinkle
  shading changes with the pose, so dynamic detail matters), prepared with its own
  OpenPose keypoints;
- ``real``: the clip named by ``PTX_REAL_VIDEO`` (default
  /work/shared/data/real/dance_basketball.mp4), prepared by MediaPipe at 128 px; skipped
  when the file is absent.

    python benchmarks/bench_compare.py [--steps 1200] [--only synthetic|real] [--threads 1]
                                       [--keep DIR]

Besides the three methods at their ``tiny`` presets, D2G-Net also trains with the paper's
input (``iuv_input=false``: the pose labels alone, without ptx's body-model IUV input) with
the same budget, and its row and ranking are reported too. ``--keep DIR`` keeps the
workspace (the prepared subjects and every run) in DIR.

Writes ``results/compare.json`` (both comparisons in ``ptx compare --json`` form, the load
average before and after each, a Markdown table for the README) and
``results/compare-synthetic.png``. The real clip's picture shows its performer, whose
footage is not ours to publish: it goes to the temporary folder
(``<tmp>/ptx-bench-compare-real.png``), never into the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.workspace import Workspace
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.tools.compare import (
    COLUMNS,
    PAPER_NAME,
    PAPER_TABLE_1,
    CompareResult,
    MethodRun,
    compare,
    ranking,
)

SYNTH = SynthConfig(motion="dance", frames=240, size=128, seed=0)
REAL = Path(os.environ.get("PTX_REAL_VIDEO", "/work/shared/data/real/dance_basketball.mp4"))
METHODS = ["d2g", "tna", "edn"]
HEAD = ("SSIM", "R-SSIM", "PSNR", "R-PSNR", "temporal", "LPIPS", "FID", "render f/s")


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cell(k: str, v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if k in ("ssim", "r_ssim", "lpips") else f"{v:.2f}"


PICTURE_NOTE = {
    "synthetic": "Picture (per-frame PSNR, challenging poses method by method): "
    "`results/compare-synthetic.png`.",
    "real": "Its picture shows the clip's performer and is not kept in the repository.",
}


VARIANT = "d2g, paper input"
"""D2G-Net with ``iuv_input=false``."""


def _row(label: str, r: MethodRun) -> str:
    cells = [_cell(k, r.score.results.get(k)) for k in COLUMNS]
    return f"| ptx {label} | " + " | ".join(cells) + f" | {r.train_seconds / 60:.1f} | {r.steps} |"


def _rank_lines(rank: dict, who: str) -> list[str]:
    lines = []
    for metric in ("psnr", "r_psnr", "temporal_error"):
        e = rank[metric]
        verdict = "first" if e.get("d2g_first") else "not first"
        lines.append(f"- {metric}, best first: {', '.join(e['order'])} (paper: "
                     f"{', '.join(e['paper_order'])}); {who} {verdict}, margin "
                     f"{e.get('d2g_margin', float('nan')):+.3g}")  # fmt: skip
    return lines


def markdown(name: str, res: CompareResult, variant: MethodRun, rank: dict, load: dict) -> str:
    r0 = res.runs[0].score.extra
    lines = [
        f"### {name}: {r0['frames']} held-out frames at {r0['size']} px, "
        f"{res.budget.get('steps', 'preset')} steps each, seed {res.budget['seed']}",
        "",
        "| | " + " | ".join(HEAD) + " | train min | steps |",
        "|---" * (len(HEAD) + 3) + "|",
    ]
    lines += [_row(r.method, r) for r in res.runs] + [_row(VARIANT, variant)]
    for paper, row in PAPER_TABLE_1.items():
        if paper in PAPER_NAME.values():
            cells = [_cell(k, row.get(k)) for k in COLUMNS]
            lines.append(f"| paper {paper} | " + " | ".join(cells) + " | | |")
    lines += ["", f"Load average (1, 5, 15 min): {load['before']} before, {load['after']} "
              "after, on 2 cores shared with other jobs.", "",
              "Ranking with d2g at its tiny preset (margin: d2g minus the best other, "
              "positive when d2g is better):", ""]  # fmt: skip
    lines += _rank_lines(res.ranking, "d2g")
    lines += ["", "Ranking with d2g given the paper's input (`iuv_input=false`):", ""]
    lines += _rank_lines(rank, "d2g (paper input)")
    lines += ["", PICTURE_NOTE[name]]
    return "\n".join(lines) + "\n"


def run(name: str, ws: Workspace, steps: int, threads: int, picture: Path) -> tuple[dict, str]:
    load = {"before": _load()}
    t0 = time.perf_counter()
    common = {"threads": threads, "tensorboard": False}
    res = compare(ws, name, METHODS, "tiny", steps=steps, seed=0, overrides=common,
                  picture=picture)  # fmt: skip
    alt = compare(ws, name, ["d2g"], "tiny", steps=steps, seed=0,
                  overrides={**common, "iuv_input": False},
                  picture=ws.root / "outputs" / f"compare-{name}-d2g-paper-input.png")  # fmt: skip
    variant = alt.runs[0]
    load["after"] = _load()
    rank = ranking({"d2g": variant.score.results,
                    **{r.method: r.score.results for r in res.runs if r.method != "d2g"}})  # fmt: skip
    out = res.to_json()
    out.update(load_average=load, wall_s=time.perf_counter() - t0)
    out["d2g_paper_input"] = {**alt.to_json()["methods"][0], "ranking": rank}
    out["table"] = {label: {k: r.score.results.get(k) for k in COLUMNS}
                    | {"train_min": r.train_seconds / 60, "steps": r.steps,
                       "person_psnr": r.score.extra["person_psnr"]}
                    for label, r in [*((r.method, r) for r in res.runs), (VARIANT, variant)]}  # fmt: skip
    return out, markdown(name, res, variant, rank, load)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", choices=("synthetic", "real"))
    ap.add_argument("--keep", type=Path, help="keep the workspace in this folder")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="ptx-bench-compare-"))
    os.environ.setdefault("PTX_WEIGHTS", str(Path.home() / ".cache" / "ptx" / "weights"))
    results: dict = {"steps": args.steps, "threads": args.threads, "methods": METHODS}
    parts = []
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        ws = Workspace(tmp / "ws")
        if args.only in (None, "synthetic"):
            video = tmp / "synthetic.mp4"
            synthesize(video, SYNTH)
            kp = import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}")
            t0 = time.perf_counter()
            prepare_video(video, ws, "synthetic", {"keypoints": kp, "crop": {"size": 128}})
            prep = time.perf_counter() - t0
            picture = RESULTS / "compare-synthetic.png"
            data, md = run("synthetic", ws, args.steps, args.threads, picture)
            data["prepare_s"] = prep
            data["subject_spec"] = {"motion": SYNTH.motion, "frames": SYNTH.frames,
                                    "size": SYNTH.size, "seed": SYNTH.seed}  # fmt: skip
            results["synthetic"], parts = data, [*parts, md]
            print(md, flush=True)
        if args.only in (None, "real") and REAL.is_file():
            t0 = time.perf_counter()
            prepare_video(REAL, ws, "real", {"crop": {"size": 128}})
            prep = time.perf_counter() - t0
            picture = Path(tempfile.gettempdir()) / "ptx-bench-compare-real.png"
            data, md = run("real", ws, args.steps, args.threads, picture)
            data["prepare_s"], data["clip"] = prep, REAL.name
            results["real"], parts = data, [*parts, md]
            print(md, flush=True)
        elif args.only in (None, "real"):
            results["real"] = {"skipped": f"{REAL} is absent (set PTX_REAL_VIDEO)"}
        results["markdown"] = "\n".join(parts)
        print(f"-> {write_result('compare', results)}")
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
