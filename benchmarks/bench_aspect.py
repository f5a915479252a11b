"""Canonical frames that follow the person: how much of each frame is padding, and what a
frame with the clip's aspect buys in quality and speed.

1. ``padding``: clips prepared until the crop at ``--size 512``, once with the clip's own
   aspect (``--aspect auto``, the default) and once as a square (``--aspect square``, what
   ptx did before): the canonical frame, the share of it that is black padding, and how
   much of the frame the person's box spans (median over frames). Clips: a real landscape
   dance clip (``--video``, default ``$PTX_REAL_VIDEO`` or the shared basketball clip), two
   portrait clips cut from it around the dancer (9:16 and the 692x1108 phone aspect), and
   a synthetic portrait subject (``ptx synth --width 288 --height 512``).
2. ``quality``: a synthetic portrait subject (288x512, ground-truth keypoints imported)
   prepared both ways at ``--size 512``; ``tiny`` trained for the same steps at about the
   same pixel count: the square frame at 64x64 against the portrait frame at 80x48; the
   held-out person-only PSNR (and whole-picture PSNR) from ``ptx score``.
3. ``speed``: the same two preparations at the same long side (64): a training step (the
   static phase and the full phase, batch 2 pairs) and model-only rendering of 64 frames,
   on one thread, medians over repeats of the process's CPU time (on a shared machine wall
   time swings several-fold with the other jobs; it is recorded too); the portrait frame
   is 64x40.

    python benchmarks/bench_aspect.py [--steps 300] [--frames 150] [--repeats 3]
        [--video PATH] [--skip padding quality speed] [--workdir DIR]

Writes benchmarks/results/aspect.json (a part left out with --skip keeps its last figures). The machine is shared: the load average before and
after each part is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from ptx.body.synth import SynthConfig, gt_dir_for, synthesize
from ptx.cache.frame import canonical_frame
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.methods.d2g import METHOD as D2G
from ptx.methods.d2g.trainer import D2GTrainer
from ptx.perform.render import StoreConditions, load_model, render_conditions, resolve_run
from ptx.perform.score import score
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video
from ptx.training.data import BatchSampler
from ptx.training.load import load_subject_data
from ptx.training.run import train

SHARED_CLIP = Path("/work/shared/data/real/dance_basketball.mp4")
FAST_FIT = {"rigid_iters": 20, "pose_iters": 60, "silhouette_iters": 20}


def load() -> float:
    return round(os.getloadavg()[0], 2)


# --- clips -------------------------------------------------------------------------------
def cut_clip(src: Path, out: Path, x0: int, width: int) -> Path:
    """Columns [x0, x0 + width) of every frame of ``src`` (full height) as an H.264 clip."""
    with av.open(str(src)) as inp, av.open(str(out), "w") as dst:
        vs = inp.streams.video[0]
        stream = dst.add_stream("libx264", rate=vs.average_rate)
        stream.width, stream.height = width, vs.height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "16", "preset": "fast"}
        for frame in inp.decode(vs):
            img = frame.to_ndarray(format="rgb24")[:, x0 : x0 + width]
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


def person_span(store: VideoStore) -> dict[str, float]:
    """Median over frames of the person's keypoint box as a fraction of the frame."""
    frame = canonical_frame(store)
    kp = store.read("keypoints")
    spans_w, spans_h = [], []
    for k in kp:
        ok = k[:, 2] > 0
        if ok.sum() < 2:
            continue
        spans_w.append(np.ptp(k[ok, 0]) / frame.width)
        spans_h.append(np.ptp(k[ok, 1]) / frame.height)
    return {
        "person_width_fraction": round(float(np.median(spans_w)), 4),
        "person_height_fraction": round(float(np.median(spans_h)), 4),
    }


def crop_case(video: Path, root: Path, aspect: str, keypoints: str | None) -> dict:
    ws = Workspace(root / f"ws-{aspect}")
    over: dict = {"crop": {"size": 512, "aspect": aspect}}
    if keypoints:
        over["keypoints"] = import_overrides(keypoints)
    t0 = time.perf_counter()
    res = prepare_video(video, ws, None, over, until="crop")
    store = VideoStore(ws, res.video_id)
    frame = canonical_frame(store)
    return {
        "canonical_hw": list(frame.shape),
        "padded_fraction": round(frame.padded_fraction, 4),
        **person_span(store),
        "seconds": round(time.perf_counter() - t0, 1),
    }


def bench_padding(root: Path, video: Path | None) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    clips: dict[str, tuple[Path, str | None]] = {}
    out: dict = {}
    if video is not None and video.is_file():
        clips["real_landscape"] = (video, None)
        probe = crop_case(video, root / "probe", "auto", None)  # where the dancer is
        store_ws = Workspace(root / "probe" / "ws-auto")
        st = VideoStore(store_ws, store_ws.video_ids()[0])
        ext = st.meta("extract")
        kp = st.read("keypoints_analysis")
        x = kp[..., 0][kp[..., 2] > 0] * ext["source_width"] / ext["width"]
        cx, w, h = float(np.median(x)), int(ext["source_width"]), int(ext["source_height"])
        for aspect in (9 / 16, 692 / 1108):  # a phone's 9:16, and a 692x1108 phone clip's
            width = round(h * aspect / 2) * 2
            name = f"real_portrait_{width}x{h}"
            x0 = int(min(max(cx - width / 2, 0), w - width))
            clips[name] = (cut_clip(video, root / f"{name}.mp4", x0, width), None)
        out["real_source"] = {"path": str(video), "wh": [w, h], "probe": probe}
    else:
        out["real_source"] = {"skipped": f"no real clip at {video}"}
    synth = root / "synth_portrait.mp4"
    synthesize(synth, SynthConfig("dance", frames=60, width=288, height=512, seed=7))
    clips["synthetic_portrait_288x512"] = (synth, f"openpose:{gt_dir_for(synth) / 'openpose'}")
    for name, (path, kp) in clips.items():
        before = load()
        out[name] = {
            aspect: crop_case(path, root / name, aspect, kp) for aspect in ("auto", "square")
        }
        out[name]["load_before_after"] = [before, load()]
        print(name, out[name], flush=True)
    return out


# --- the synthetic portrait subject, prepared both ways ----------------------------------
def prepare_subject(root: Path, frames: int) -> dict[str, Workspace]:
    root.mkdir(parents=True, exist_ok=True)
    video = root / "tall.mp4"
    if not video.is_file():
        synthesize(video, SynthConfig("dance", frames=frames, width=288, height=512, seed=3))
    keypoints = import_overrides(f"openpose:{gt_dir_for(video) / 'openpose'}")
    out = {}
    for aspect in ("square", "auto"):
        ws = Workspace(root / f"subject-{aspect}")
        over = {"keypoints": keypoints, "crop": {"size": 512, "aspect": aspect}, "fit": FAST_FIT}
        if ws.root.is_dir() and "tall" in {s["name"] for s in ws.subjects()}:
            out[aspect] = ws  # prepared by an earlier run into --workdir
            continue
        t0 = time.perf_counter()
        prepare_video(video, ws, "tall", over)
        print(f"prepared ({aspect}) in {time.perf_counter() - t0:.0f} s", flush=True)
        out[aspect] = ws
    return out


def bench_quality(subjects: dict[str, Workspace], steps: int) -> dict:
    out = {}
    for aspect, size in (("square", 64), ("auto", 80)):
        ws = subjects[aspect]
        before = load()
        t0 = time.perf_counter()
        res = train(ws, "tall", "tiny", {"size": size, "steps": steps, "tensorboard": False,
                                          "device": "cpu", "sample_every": 0})  # fmt: skip
        seconds = time.perf_counter() - t0
        s = score(ws, "tall", device="cpu")
        h, w = s.extra["frame"]
        out["square_64x64" if aspect == "square" else f"portrait_{w}x{h}"] = {
            "frame_hw": [h, w],
            "pixels": h * w,
            "canonical_padded_fraction": round(
                canonical_frame(VideoStore(ws, ws.subject("tall")["videos"][0])).padded_fraction,
                4,
            ),
            "steps": res.end_step,
            "train_seconds": round(seconds, 1),
            "heldout_frames": s.extra["frames"],
            "person_psnr": s.extra["person_psnr"],
            "person_ssim": s.extra["person_ssim"],
            "picture_psnr": s.results["psnr"],
            "picture_ssim": s.results["ssim"],
            "scored_padded_fraction": s.extra["padded_fraction"],
            "load_before_after": [before, load()],
        }
        print(aspect, out, flush=True)
    keys = list(out)
    out["person_psnr_gain_db"] = out[keys[1]]["person_psnr"] - out[keys[0]]["person_psnr"]
    return out


def _step_seconds(ws: Workspace, size: int, repeats: int, steps: int) -> dict:
    """Median CPU (and wall) seconds per training step (static and full phase) at long side
    ``size``."""
    cfg = D2G.resolve_config("tiny", {"size": size, "device": "cpu", "tensorboard": False})
    data = load_subject_data(ws, ["tall"], D2G, cfg)
    trainer = D2GTrainer(cfg, 1, torch.device("cpu"), frame=data.frame)
    trainer.init_from_data(data)
    sampler = BatchSampler(len(data.train_ids), cfg.batch, 0)
    out: dict = {"frame_hw": list(data.frame)}
    for phase, at in (("static", 0), ("full", cfg.gan_start)):
        cpu, wall = [], []
        for _ in range(repeats):
            batches = [data.batch(data.train_ids[sampler.next()], trainer.device)
                       for _ in range(steps + 1)]  # fmt: skip
            trainer.train_step(batches[0], at)  # warm-up
            c0, t0 = time.process_time(), time.perf_counter()
            for b in batches[1:]:
                trainer.train_step(b, at)
            cpu.append((time.process_time() - c0) / steps)
            wall.append((time.perf_counter() - t0) / steps)
        out[f"{phase}_cpu_seconds_per_step"] = statistics.median(cpu)
        out[f"{phase}_wall_seconds_per_step"] = statistics.median(wall)
        out[f"{phase}_cpu_repeats"] = cpu
    return out


def _render_fps(ws: Workspace, size: int, repeats: int) -> dict:
    train(ws, "tall", "tiny", {"size": size, "steps": 1, "uv_warmup_steps": 0,
                               "tensorboard": False, "device": "cpu"})  # fmt: skip
    model = load_model(resolve_run(ws, "tall"), "cpu")
    store = VideoStore(ws, ws.subject("tall")["videos"][0])
    n = min(64, store.open_array("frames").shape[0])
    cpu, wall = [], []
    for _ in range(repeats + 1):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in render_conditions(model, StoreConditions(store, 0, n)):
            pass
        cpu.append(n / (time.process_time() - c0))
        wall.append(n / (time.perf_counter() - t0))
    return {
        "render_cpu_frames_per_s": statistics.median(cpu[1:]),
        "render_wall_frames_per_s": statistics.median(wall[1:]),
    }


def bench_speed(subjects: dict[str, Workspace], repeats: int) -> dict:
    out = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for aspect in ("square", "auto"):
            before = load()
            r = _step_seconds(subjects[aspect], 64, repeats, 10)
            r.update(_render_fps(subjects[aspect], 64, repeats))
            r["load_before_after"] = [before, load()]
            out[aspect] = r
            print(aspect, r, flush=True)
    finally:
        torch.set_num_threads(threads)
    sq, pt = out.pop("square"), out.pop("auto")
    h, w = pt["frame_hw"]
    out["square_64x64"], out[f"portrait_{w}x{h}"] = sq, pt
    out["speedup"] = {
        "train_static": sq["static_cpu_seconds_per_step"] / pt["static_cpu_seconds_per_step"],
        "train_full": sq["full_cpu_seconds_per_step"] / pt["full_cpu_seconds_per_step"],
        "render": pt["render_cpu_frames_per_s"] / sq["render_cpu_frames_per_s"],
        "pixel_ratio": 64 * 64 / (h * w),
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    default = os.environ.get("PTX_REAL_VIDEO") or str(SHARED_CLIP)
    ap.add_argument("--video", type=Path, default=Path(default))
    ap.add_argument("--skip", nargs="*", default=[], choices=["padding", "quality", "speed"])
    ap.add_argument("--workdir", type=Path, help="Keep the clips and workspaces here.")
    args = ap.parse_args()
    result: dict = {"settings": {"steps": args.steps, "frames": args.frames,
                                 "repeats": args.repeats, "threads": torch.get_num_threads()}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ptx-bench-aspect-") as tmp:
        root = args.workdir or Path(tmp)
        if "padding" not in args.skip:
            result["padding"] = bench_padding(root / "padding", args.video)
        if {"quality", "speed"} - set(args.skip):
            subjects = prepare_subject(root / "subject", args.frames)
            if "quality" not in args.skip:
                result["quality"] = bench_quality(subjects, args.steps)
            if "speed" not in args.skip:
                result["speed"] = bench_speed(subjects, args.repeats)
    previous = RESULTS / "aspect.json"
    if args.skip and previous.is_file():  # keep the last figures of the parts skipped
        old = json.loads(previous.read_text())
        result.update({k: old[k] for k in args.skip if k in old and k not in result})
    print(write_result("aspect", result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
