"""Tracker segments benchmark: what restarting MediaPipe's tracker in segments (which makes
a resumed `keypoints` stage equal an uninterrupted one) costs in detection quality and time.

On a synthetic dance with ground truth (`ptx synth`, 200 frames at 256 px) and, when
``PTX_REAL_VIDEO`` names a clip, on its first 219 frames at 640 px long side, the same frames
go through ptx's ``SegmentedTracker`` with:

- ``continuous``: one tracker for the whole clip (segment 0: what a resume cannot match);
- ``segments``: the default (a fresh tracker every 128 frames, warmed on the 16 before);
- ``chunk_restart``: a fresh tracker at every 16-frame chunk with no warm-up (what
  resetting at chunk boundaries would do).

Reported per variant: keypoint error against the ground truth (median, mean, 95th
percentile, px; joints both visible in the ground truth and detected with confidence
> 0.5), the difference from continuous tracking, jitter (median and 95th percentile of the
second difference of each visible joint's track, px), the detection rate, ms per frame.

    python benchmarks/bench_tracker.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.io.openpose import read_openpose_numbered
from ptx.io.video import FrameDecoder, fit_long_side, probe_video
from ptx.pipeline.tracking import SegmentedTracker

VARIANTS = {"continuous": (0, 0), "segments": (128, 16), "chunk_restart": (16, 0)}


def track(frames: np.ndarray, segment: int, warmup: int) -> tuple[np.ndarray, float]:
    from ptx.pipeline.mediapipe_pose import PoseTracker

    tracker = SegmentedTracker(lambda: PoseTracker(), lambda a, b: frames[a:b], segment, warmup)
    out = np.zeros((len(frames), 25, 3), np.float32)
    t0 = time.perf_counter()
    for t, rgb in enumerate(frames):
        out[t] = tracker.process(t, rgb).keypoints[:25]
    seconds = time.perf_counter() - t0
    tracker.close()
    return out, 1000 * seconds / len(frames)


def jitter(kp: np.ndarray) -> np.ndarray:
    vis = kp[..., 2] > 0.5
    acc = np.linalg.norm(kp[2:, :, :2] - 2 * kp[1:-1, :, :2] + kp[:-2, :, :2], axis=-1)
    return acc[vis[2:] & vis[1:-1] & vis[:-2]]


def compare(frames: np.ndarray, truth: np.ndarray | None) -> dict:
    out: dict[str, dict] = {}
    tracks = {}
    for name, (segment, warmup) in VARIANTS.items():
        kp, ms = track(frames, segment, warmup)
        tracks[name] = kp
        j = jitter(kp)
        row = {
            "ms_per_frame": round(ms, 2),
            "detection_rate": float((kp[..., 2] > 0).any(axis=1).mean()),
            "jitter_median_px": round(float(np.median(j)), 3),
            "jitter_p95_px": round(float(np.percentile(j, 95)), 3),
        }
        if truth is not None:
            seen = (truth[..., 2] > 0) & (kp[..., 2] > 0.5)
            err = np.linalg.norm(kp[..., :2] - truth[..., :2], axis=-1)[seen]
            row.update(
                error_median_px=round(float(np.median(err)), 3),
                error_mean_px=round(float(err.mean()), 3),
                error_p95_px=round(float(np.percentile(err, 95)), 3),
            )
        both = (tracks["continuous"][..., 2] > 0.5) & (kp[..., 2] > 0.5)
        diff = np.linalg.norm(kp[..., :2] - tracks["continuous"][..., :2], axis=-1)[both]
        row.update(
            vs_continuous_median_px=round(float(np.median(diff)), 3),
            vs_continuous_p99_px=round(float(np.percentile(diff, 99)), 3),
        )
        out[name] = row
        print(name, row, flush=True)
    return out


def real_frames(path: Path, n: int = 219) -> np.ndarray:
    info = probe_video(path)
    decoder = FrameDecoder(info, info.fps, 0.0, size=fit_long_side(info.width, info.height, 640))
    return np.stack(list(decoder.frames(0, min(n, info.frame_count))))


def main() -> None:
    load = [os.getloadavg()[0]]
    result: dict = {"variants": {k: {"segment": s, "warmup": w} for k, (s, w) in VARIANTS.items()}}
    with tempfile.TemporaryDirectory(prefix="ptx-bench-tracker-") as tmp:
        video = Path(tmp) / "dance.mp4"
        synthesize(video, SynthConfig("dance", frames=200, size=256, seed=1))
        from ptx.body.synth import load_ground_truth

        gt = load_ground_truth(video)
        truth = read_openpose_numbered(gt_dir_for(video) / "openpose").keypoints[:, :25]
        result["synthetic"] = compare(gt["frames"], truth)
    real = os.environ.get("PTX_REAL_VIDEO")
    if real and Path(real).is_file():
        result["real"] = {"clip": Path(real).name, **compare(real_frames(Path(real)), None)}
    load.append(os.getloadavg()[0])
    result["load_average_before_after"] = load
    print(write_result("tracker", result))


if __name__ == "__main__":
    main()
