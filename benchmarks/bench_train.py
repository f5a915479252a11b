"""Training benchmark: steps/s and images/s of the `tiny` and `small` presets, and the data
path alone: batches/s from the Zarr store (read once into tensors, then indexed) against a
folder of PNG frames read with PIL for every batch, the way the reference implementations
feed their trainers. Both paths are measured in the same run on the same synthetic subject.

    python benchmarks/bench_train.py [--repeats 3] [--tiny-steps 20] [--small-steps 3]
        [--data-frames 64] [--data-size 256]

Writes benchmarks/results/train.json. The machine is shared: the load average before and
after is recorded beside each figure.
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

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from ptx.body.toydata import make_toy_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.methods.d2g import METHOD as D2G
from ptx.methods.d2g.trainer import D2GTrainer
from ptx.training.data import BatchSampler
from ptx.training.load import from_arrays, load_subject_data

resolve_config = D2G.resolve_config


def load() -> float:
    return os.getloadavg()[0]


def bench_preset(preset: str, steps: int, repeats: int) -> dict:
    """Median seconds per step of the full phase (every loss on; VGG-19 absent) and of the
    static phase, for ``preset`` on the CPU."""
    cfg = resolve_config(preset, {"device": "cpu", "tensorboard": False})
    toy = make_toy_subject(frames=12, size=cfg.size, seed=0)
    data = from_arrays({"toy": toy.arrays()}, D2G, cfg)
    trainer = D2GTrainer(cfg, 1, torch.device("cpu"))
    trainer.init_from_data(data)
    sampler = BatchSampler(len(data.train_ids), cfg.batch, 0)
    out = {"size": cfg.size, "batch_pairs": cfg.batch, "images_per_step": 2 * cfg.batch}
    for phase, at in (("full", cfg.gan_start), ("static", 0)):
        runs = []
        before = load()
        for _ in range(repeats):
            batches = [
                data.batch(data.train_ids[sampler.next()], trainer.device) for _ in range(steps + 1)
            ]
            trainer.train_step(batches[0], at)  # warm-up
            t0 = time.perf_counter()
            for b in batches[1:]:
                trainer.train_step(b, at)
            runs.append((time.perf_counter() - t0) / steps)
        sec = statistics.median(runs)
        out[phase] = {
            "seconds_per_step": sec,
            "steps_per_s": 1.0 / sec,
            "images_per_s": 2 * cfg.batch / sec,
            "repeats": runs,
            "load_before_after": [before, load()],
        }
    return out


def write_png_folder(toy, folder: Path) -> None:
    """The reference layout: one PNG per frame and array, flow as .npy."""
    for name in ("frames", "poselabel", "label3d", "iuv", "mask"):
        (folder / name).mkdir(parents=True)
        for t, img in enumerate(getattr(toy, name)):
            Image.fromarray(img).save(folder / name / f"{t:05d}.png")
    (folder / "flow").mkdir()
    for t in range(len(toy.frames)):
        np.save(folder / "flow" / f"{t:05d}.npy", toy.flow[t])
        np.save(folder / "flow" / f"{t:05d}_valid.npy", toy.flow_valid[t])


def png_batch(folder: Path, ids: list[int], pose_frames: int = 3) -> dict[str, torch.Tensor]:
    """What a per-item dataset does: read every image an item needs, every time."""

    def read(name: str, t: int) -> torch.Tensor:
        a = np.asarray(Image.open(folder / name / f"{t:05d}.png"))
        return torch.from_numpy(a.copy())

    items = []
    for t in ids:
        pair = []
        for f in (t - 1, t):
            pose = [
                read(n, max(f - k, 0)) for k in range(pose_frames) for n in ("poselabel", "label3d")
            ]
            pair.append(
                {
                    "pose": torch.cat(pose, -1),
                    "real": read("frames", f),
                    "iuv": read("iuv", f),
                    "mask": read("mask", f),
                }
            )
        flow = torch.from_numpy(np.load(folder / "flow" / f"{t:05d}.npy").astype(np.float32))
        valid = torch.from_numpy(np.load(folder / "flow" / f"{t:05d}_valid.npy"))
        items.append((pair, flow, valid))

    def unit(x: torch.Tensor) -> torch.Tensor:  # the same conversions as the Zarr path
        return x.permute(0, 3, 1, 2).to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)

    pairs = [p for it in items for p in it[0]]
    return {
        "pose": unit(torch.stack([p["pose"] for p in pairs])),
        "real": unit(torch.stack([p["real"] for p in pairs])),
        "iuv": torch.stack([p["iuv"] for p in pairs]).permute(0, 3, 1, 2),
        "mask": torch.stack([p["mask"] for p in pairs]).to(torch.float32).mul_(1 / 255),
        "flow": torch.stack([it[1] for it in items]).permute(0, 3, 1, 2),
        "valid": torch.stack([it[2] for it in items]).to(torch.float32),
    }


def bench_data(frames: int, size: int, batch: int, repeats: int) -> dict:
    before = load()
    toy = make_toy_subject(frames=frames, size=size, seed=1)
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-train-"))
    ws = Workspace.open(tmp / "ws")
    store = VideoStore(ws, "bench-video")
    for name, a in toy.arrays().items():
        store.create_array(name, a.shape, a.dtype, time_axis=name != "background")
        store.write(name, 0, a)
    ws.add_video_to_subject("bench", "bench-video")
    write_png_folder(toy, tmp / "png")
    cfg = resolve_config("small", {"size": size, "device": "cpu", "batch": batch})
    n_batches = max(1, (frames - 1) // batch)

    def zarr_epoch() -> tuple[float, float]:
        t0 = time.perf_counter()
        data = load_subject_data(ws, ["bench"], D2G, cfg)
        loaded = time.perf_counter() - t0
        sampler = BatchSampler(len(data.train_ids), batch, 0)
        for _ in range(n_batches):
            data.batch(data.train_ids[sampler.next()], torch.device("cpu"))
        return loaded, time.perf_counter() - t0

    def png_epoch() -> float:  # PNG decoding per batch, as a per-item Dataset does
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        for _ in range(n_batches):
            png_batch(tmp / "png", list(rng.integers(1, frames, batch)))
        return time.perf_counter() - t0

    zarr_epoch(), png_epoch()  # warm-up: imports, file cache
    zarr_runs, png_runs = [], []
    for _ in range(repeats):  # interleaved, so a busy moment hits both paths
        zarr_runs.append(zarr_epoch())
        png_runs.append(png_epoch())
    data = load_subject_data(ws, ["bench"], D2G, cfg)
    sampler = BatchSampler(len(data.train_ids), batch, 0)
    t0 = time.perf_counter()
    steady = 200
    for _ in range(steady):
        data.batch(data.train_ids[sampler.next()], torch.device("cpu"))
    zarr_steady = steady / (time.perf_counter() - t0)
    zarr_epoch_s = statistics.median(r[1] for r in zarr_runs)
    png_epoch_s = statistics.median(png_runs)
    return {
        "frames": frames,
        "size": size,
        "batch_pairs": batch,
        "batches_per_epoch": n_batches,
        "zarr": {
            "load_seconds": statistics.median(r[0] for r in zarr_runs),
            "epoch_seconds_including_load": zarr_epoch_s,
            "batches_per_s_including_load": n_batches / zarr_epoch_s,
            "batches_per_s_after_load": zarr_steady,
        },
        "png_pil": {"epoch_seconds": png_epoch_s, "batches_per_s": n_batches / png_epoch_s},
        "ratio_including_load": png_epoch_s / zarr_epoch_s,
        "ratio_after_load": zarr_steady / (n_batches / png_epoch_s),
        "ratio_over_1000_batches": (1000 * png_epoch_s / n_batches)
        / (statistics.median(r[0] for r in zarr_runs) + 1000 / zarr_steady),
        "load_before_after": [before, load()],
        "goal_ratio": 5.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tiny-steps", type=int, default=20)
    ap.add_argument("--small-steps", type=int, default=3)
    ap.add_argument("--data-frames", type=int, default=64)
    ap.add_argument("--data-size", type=int, default=256)
    ap.add_argument("--only", choices=("all", "data", "presets"), default="all")
    args = ap.parse_args()
    torch.manual_seed(0)
    previous = {}
    if args.only != "all" and (RESULTS / "train.json").is_file():  # keep the other half
        previous = json.loads((RESULTS / "train.json").read_text())
    result = {
        "threads": torch.get_num_threads(),
        "note": "CPU only; VGG-19 weights absent (pixel L1 fallback). 'full' = every loss on "
        "(GAN, feature matching, temporal); 'static' = before the GAN starts.",
        "data_path": previous.get("data_path")
        if args.only == "presets"
        else bench_data(args.data_frames, args.data_size, 2, args.repeats),
        "presets": previous.get("presets")
        if args.only == "data"
        else {
            "tiny": bench_preset("tiny", args.tiny_steps, args.repeats),
            "small": bench_preset("small", args.small_steps, args.repeats),
        },
        "gpu": None if not torch.cuda.is_available() else "not measured by this script on CUDA yet",
    }
    path = write_result("train", result)
    d = result["data_path"]
    print(f"data path: Zarr {d['zarr']['batches_per_s_after_load']:.1f} batches/s after a "
          f"{d['zarr']['load_seconds']:.2f} s load, PNG {d['png_pil']['batches_per_s']:.1f} -> "
          f"{d['ratio_after_load']:.1f}x ({d['ratio_including_load']:.1f}x charging the load to "
          f"one {d['batches_per_epoch']}-batch epoch)")  # fmt: skip
    for name, p in result["presets"].items():
        print(
            f"{name}: {p['full']['steps_per_s']:.2f} steps/s, {p['full']['images_per_s']:.1f} images/s"
        )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
