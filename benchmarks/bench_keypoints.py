"""Person stages benchmark: frames/s of keypoints, crop, mask and poselabel at 512 px, and
the keypoints stage next to bare MediaPipe inference on the same frames, measured in the
same run, interleaved (the ratio is ptx's overhead: reading and writing the store, the
crowd check, clean-up, quality gates).

    python benchmarks/bench_keypoints.py [--frames 120] [--repeats 3]

Uses a generated clip (the astronaut photo from scikit-image moving over a 1280 x 720
canvas) and, when ``PTX_REAL_VIDEO`` names a clip, that clip too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.io.testclips import write_clip
from ptx.pipeline.runner import prepare_video

STAGES = ("keypoints", "crop", "mask", "poselabel")


def astronaut_clip(path: Path, n: int, width: int = 1280, height: int = 720) -> Path:
    """The astronaut photo drifting and growing over a grey canvas, ``n`` frames."""
    photo = data.astronaut()
    frames = []
    for i in range(n):
        f = i / max(1, n - 1)
        s = 1.0 + 0.2 * np.sin(np.pi * f)
        ox, oy = 200 + 500 * f, 60 + 40 * np.sin(2 * np.pi * f)
        m = np.array([[s, 0, ox], [0, s, oy]])
        frames.append(cv2.warpAffine(photo, m, (width, height), borderValue=(128, 128, 128)))
    return write_clip(path, width=width, height=height, fps=30, images=frames, lossless=False)


def bare_mediapipe(frames: np.ndarray) -> float:
    """Seconds for MediaPipe pose alone over ``frames`` (same settings as the stage)."""
    import mediapipe as mp

    t0 = time.perf_counter()
    with mp.solutions.pose.Pose(
        static_image_mode=False,
        model_complexity=1,
        enable_segmentation=True,
        smooth_landmarks=False,
    ) as pose:
        for rgb in frames:
            pose.process(rgb)
    return time.perf_counter() - t0


def stage_seconds(video: Path, ws: Workspace, force: list[str], until: str) -> dict[str, float]:
    res = prepare_video(video, ws, "bench", force=force, until=until)
    return {o.stage: o.seconds for o in res.outcomes if o.status == "ran"}


def measure(video: Path, repeats: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="ptx-bench-kp-"))
    try:
        ws = Workspace(root / "ws")
        res = prepare_video(video, ws, "bench", until="poselabel")  # warm-up, caches extract
        store = VideoStore(ws, res.video_id)
        frames = store.read("frames_analysis")
        n = len(frames)
        bare, stage = [], []
        per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
        for r in range(repeats):
            # Alternate the order so that drifting machine load hits both sides alike.
            if r % 2:
                stage.append(stage_seconds(video, ws, ["keypoints"], "keypoints")["keypoints"])
                bare.append(bare_mediapipe(frames))
            else:
                bare.append(bare_mediapipe(frames))
                stage.append(stage_seconds(video, ws, ["keypoints"], "keypoints")["keypoints"])
            for name, secs in stage_seconds(video, ws, ["crop"], "poselabel").items():
                per_stage[name].append(secs)
        per_stage["keypoints"] = stage
        med_bare, med_stage = statistics.median(bare), statistics.median(stage)
        return {
            "frames": n,
            "analysis_size": list(frames.shape[1:3][::-1]),
            "canonical_size": int(store.meta("crop")["size"]),
            "detection_rate": store.meta("keypoints")["detection_rate"],
            "frames_per_second": {
                s: round(n / statistics.median(v), 2) for s, v in per_stage.items() if v
            },
            "bare_mediapipe_frames_per_second": round(n / med_bare, 2),
            "keypoints_over_bare_ratio": round(med_stage / med_bare, 3),
            "seconds": {"bare_mediapipe": bare, **per_stage},
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-clip-"))
    try:
        clips = {"generated_astronaut_720p": astronaut_clip(tmp / "astronaut.mp4", args.frames)}
        real = os.environ.get("PTX_REAL_VIDEO")
        if real:
            clips[f"real:{Path(real).name}"] = Path(real)
        results = {name: measure(path, args.repeats) for name, path in clips.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    payload = {
        "repeats": args.repeats,
        "goal": "keypoints >= 25 frames/s on 2 CPU cores; keypoints/bare ratio < 1.10",
        "load_average_before_after": [list(load_before), list(os.getloadavg())],
        "clips": results,
    }
    path = write_result("keypoints", payload)
    for name, r in results.items():
        print(
            f"{name}: {r['frames_per_second']} f/s; bare MediaPipe "
            f"{r['bare_mediapipe_frames_per_second']} f/s; ratio {r['keypoints_over_bare_ratio']}"
        )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
