"""Quality benchmark: a fixed synthetic subject (``ptx synth``, seed 0) trained with the
``tiny`` preset for a fixed number of steps, scored on its held-out frames.

    python benchmarks/bench_quality.py [--steps 300]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.workspace import Workspace
from ptx.perform.score import score
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.run import train

SYNTH = SynthConfig(motion="dance", frames=120, size=128, seed=0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-quality-"))
    try:
        ws = Workspace(tmp / "ws")
        video = tmp / "subject.mp4"
        synthesize(video, SYNTH)
        kp = import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}")
        t0 = time.perf_counter()
        prepare_video(video, ws, "bench", {"keypoints": kp, "crop": {"size": SYNTH.size}})
        t_prep = time.perf_counter() - t0
        t0 = time.perf_counter()
        trained = train(ws, "bench", "tiny", {"steps": args.steps})
        t_train = time.perf_counter() - t0
        res = score(ws, "bench")
        out = {
            "subject": {"motion": SYNTH.motion, "frames": SYNTH.frames, "size": SYNTH.size,
                        "seed": SYNTH.seed},
            "preset": "tiny",
            "steps": args.steps,
            "prepare_s": t_prep,
            "train_s": t_train,
            "train_steps_per_s": trained.steps_per_s,
            "heldout": {k: res.results[k] for k in ("psnr", "ssim", "temporal_error", "r_psnr",
                                                    "r_ssim", "akd", "mkr", "lpips", "fid")},
            "heldout_null_reasons": res.reasons,
            "heldout_person_psnr": res.extra["person_psnr"],
            "untrained_psnr": (trained.initial or {}).get("psnr"),
            "static_texture_psnr": trained.final.get("psnr_static"),
        }  # fmt: skip
        path = write_result("quality", out)
        print(f"held-out PSNR {out['heldout']['psnr']:.2f} dB, SSIM {out['heldout']['ssim']:.4f},"
              f" temporal {out['heldout']['temporal_error']:.3f} -> {path}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
