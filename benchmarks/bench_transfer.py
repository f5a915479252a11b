"""Transfer benchmark: render frames/s (model only) and transfer frames/s (end to end,
the source's first preparation excluded) for the tiny and small presets on this machine,
and peak memory of a transfer whose source is twice as long (it should stay flat).

    python benchmarks/bench_transfer.py [--frames 60]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.workspace import Workspace
from ptx.perform.render import StoreConditions, load_model, render_fps, resolve_run
from ptx.perform.transfer import subject_store, transfer
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.run import train

SIZE = 256
FAST = {"rigid_iters": 20, "pose_iters": 40, "silhouette_iters": 0}

CHILD = f"""
import json, sys
from pathlib import Path
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from common import peak_rss_mb
from ptx.cache.workspace import Workspace
from ptx.perform.transfer import transfer
ws, src, out, over = Workspace(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4])
start = peak_rss_mb()
res = transfer(ws, src, sys.argv[5], out, prepare_overrides=over)
print(json.dumps({{"frames": res.frames, "peak_rss_mb": peak_rss_mb(), "after_imports_mb": start}}))
"""


def overrides(video: Path) -> dict:
    kp = import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}")
    return {"keypoints": kp, "crop": {"size": SIZE}, "fit": dict(FAST)}


def make(path: Path, motion: str, frames: int, seed: int) -> Path:
    synthesize(path, SynthConfig(motion, frames=frames, size=SIZE, seed=seed))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-transfer-"))
    try:
        ws = Workspace(tmp / "ws")
        target = make(tmp / "target.mp4", "dance", 48, 1)
        source = make(tmp / "source.mp4", "walk", args.frames, 2)
        longer = make(tmp / "source2x.mp4", "walk", 2 * args.frames, 2)
        prepare_video(target, ws, "target", overrides(target))
        for src in (source, longer):
            prepare_video(src, ws, None, overrides(src), until="label3d")
        out: dict = {"size": SIZE, "source_frames": args.frames, "presets": {}}
        for preset in ("tiny", "small"):
            name = f"target-{preset}"
            ws.add_video_to_subject(name, subject_store(ws, "target").video_id)
            train(ws, name, preset, {"steps": 1, "uv_warmup_steps": 0, "batch": 1})
            model = load_model(resolve_run(ws, name))
            fps_model = render_fps(model, StoreConditions(subject_store(ws, name)), frames=32)
            res = transfer(ws, source, name, tmp / f"out-{preset}.mp4",
                           prepare_overrides=overrides(source))  # fmt: skip
            out["presets"][preset] = {
                "model_size": model.cfg.size,
                "render_fps": fps_model,
                "transfer_fps": res.render_fps,
            }
            print(f"{preset}: render {fps_model:.1f} f/s, transfer {res.render_fps:.1f} f/s")
        memory = {}
        for label, src in (("1x", source), ("2x", longer)):
            cmd = [sys.executable, "-c", CHILD, str(ws.root), str(src), str(tmp / f"m{label}.mp4"),
                   json.dumps(overrides(src)), "target-tiny"]  # fmt: skip
            got = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if got.returncode:
                raise SystemExit(f"transfer of {src.name} failed:\n{got.stderr[-2000:]}")
            memory[label] = json.loads(got.stdout.strip().splitlines()[-1])
        out["memory"] = {
            **memory,
            "ratio_2x_to_1x": memory["2x"]["peak_rss_mb"] / memory["1x"]["peak_rss_mb"],
        }
        path = write_result("transfer", out)
        print(f"peak RSS {memory['1x']['peak_rss_mb']:.0f} MB -> {memory['2x']['peak_rss_mb']:.0f}"
              f" MB for a source twice as long -> {path}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
