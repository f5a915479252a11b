"""Body benchmark: IUV / label3d rendering frames/s at 512 px on one core (goal: 100),
fit time per frame and its accuracy on a synthetic subject, and synth speed.

    python benchmarks/bench_body.py [--frames 64] [--repeats 3]

Baselines measured in the same run: a vectorized torch rasterizer (the alternative the
numba rasterizer was chosen over) on the same meshes, and the fit with torch's default
thread count instead of one thread. The machine is shared: the load average before and
after is recorded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, write_result

from ptx.body.fit import FitConfig, fit_body
from ptx.body.model import TorchBody, posed_numpy
from ptx.body.open_model import open_body_model
from ptx.body.render import render_sequence, to_pixels
from ptx.body.silhouette import silhouette_iou
from ptx.body.synth import SynthConfig, synth_subject

SIZE = 512


def torch_raster_iuv(verts: np.ndarray, model, size: int) -> torch.Tensor:
    """Baseline: a vectorized torch z-buffer rasterizer producing the part image.

    Every triangle tests the pixels of its bounding box (padded to the largest box), the
    nearest depth per pixel wins through ``scatter_reduce``."""
    v = torch.as_tensor(verts)
    tri = v[torch.as_tensor(model.faces, dtype=torch.long)]  # (F, 3, 3)
    x, y, z = tri[..., 0], tri[..., 1], tri[..., 2]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (x[:, 2] - x[:, 0]) * (y[:, 1] - y[:, 0])
    keep = area < 0
    x, y, z, area = x[keep], y[keep], z[keep], area[keep]
    part = torch.as_tensor(model.face_part)[keep]
    x0 = torch.floor(x.min(1).values).clamp(0, size - 1).long()
    y0 = torch.floor(y.min(1).values).clamp(0, size - 1).long()
    span = int(max((x.max(1).values - x0).max().item(), (y.max(1).values - y0).max().item())) + 2
    off = torch.arange(span)
    px = (x0[:, None, None] + off[None, None, :]).float() + 0.5  # (F, 1, K)
    py = (y0[:, None, None] + off[None, :, None]).float() + 0.5  # (F, K, 1)

    def edge(i, j):
        xi, yi, xj, yj = (a[:, k, None, None] for a, k in ((x, i), (y, i), (x, j), (y, j)))
        return ((xi - px) * (yj - py) - (xj - px) * (yi - py)) / area[:, None, None]

    w0, w1 = edge(1, 2), edge(2, 0)
    w2 = 1 - w0 - w1
    inside = (w0 >= 0) & (w1 >= 0) & (w2 >= 0) & (px < size) & (py < size)
    depth = 1 / (w0 / z[:, 0, None, None] + w1 / z[:, 1, None, None] + w2 / z[:, 2, None, None])
    pix = (py.long() * size + px.long()).expand_as(inside)[inside]
    d = depth[inside]
    zbuf = torch.full((size * size,), float("inf")).scatter_reduce(0, pix, d, "amin")
    win = d <= zbuf[pix]
    out = torch.zeros(size * size, dtype=torch.uint8)
    face_of = torch.arange(len(part))[:, None, None].expand_as(inside)[inside]
    out[pix[win]] = part[face_of[win]]
    return out.reshape(size, size)


def bench_render(frames: int, repeats: int) -> dict:
    sub = synth_subject(SynthConfig(motion="dance", frames=frames, size=SIZE, seed=0))
    model = open_body_model()
    body = TorchBody(model)
    args = (model, sub.betas, sub.pose, sub.transl, sub.camera, SIZE)
    out = {"frames": frames, "triangles": len(model.faces), "size": SIZE}
    for name, outputs in (("iuv", ("iuv",)), ("iuv+label3d", ("iuv", "label3d"))):
        sec = median_time(lambda o=outputs: render_sequence(*args, o, 1, body), repeats)
        out[f"{name}_fps_one_core"] = round(frames / sec, 1)
    sec = median_time(lambda: posed_numpy(body, sub.betas, sub.pose, sub.transl, True), repeats)
    out["skinning_ms_per_frame"] = round(1000 * sec / frames, 3)
    verts, _, _, _ = posed_numpy(body, sub.betas, sub.pose, sub.transl, False)
    pix = [to_pixels(v, sub.camera) for v in verts]
    base = [torch_raster_iuv(p, model, SIZE) for p in pix[:2]]
    agree = float((base[0].numpy() == sub.iuv[0, ..., 0]).mean())
    n_base = min(frames, 16)
    sec = median_time(lambda: [torch_raster_iuv(p, model, SIZE) for p in pix[:n_base]], repeats)
    out["baseline_torch_vectorized_fps_one_core"] = round(n_base / sec, 1)
    out["baseline_pixel_agreement"] = round(agree, 4)
    out["speedup_over_baseline"] = round(
        out["iuv_fps_one_core"] / out["baseline_torch_vectorized_fps_one_core"], 1
    )
    out["goal_fps"] = 100
    return out


def _fit_once(sub, threads: int) -> tuple[float, dict]:
    size = sub.config.size
    rng = np.random.default_rng(0)
    kp = sub.keypoints.copy()
    kp[..., :2] += rng.normal(0, 0.005 * size, kp[..., :2].shape)
    t0 = time.perf_counter()
    fit = fit_body(open_body_model(), kp, size, sub.mask, cfg=FitConfig(threads=threads))
    sec = time.perf_counter() - t0
    r = render_sequence(open_body_model(), fit.betas, fit.pose, fit.transl, fit.camera, size)
    r |= render_sequence(
        open_body_model(), fit.betas, fit.pose, fit.transl, fit.camera, size, ("mask",)
    )
    person = sub.mask > 0
    err = np.linalg.norm(fit.keypoints[..., :2] - sub.keypoints[..., :2], axis=-1).mean()
    return sec, {
        "keypoint_error_fraction": round(float(err / size), 5),
        "part_agreement": round(float((r["iuv"][..., 0] == sub.iuv[..., 0])[person].mean()), 4),
        "silhouette_iou": round(float(silhouette_iou(r["mask"], sub.mask).mean()), 4),
    }


def bench_fit(frames: int, repeats: int) -> dict:
    sub = synth_subject(SynthConfig(motion="dance", frames=frames, size=SIZE, seed=3))
    times, quality = [], {}
    for _ in range(repeats):
        sec, quality = _fit_once(sub, 1)
        times.append(sec)
    default_threads = torch.get_num_threads()
    base, _ = _fit_once(sub, default_threads)
    med = float(np.median(times))
    return {
        "frames": frames,
        "size": SIZE,
        "seconds": [round(t, 2) for t in times],
        "seconds_per_frame": round(med / frames, 4),
        "baseline_threads": default_threads,
        "baseline_seconds_per_frame": round(base / frames, 4),
        **quality,
    }


def bench_synth(repeats: int) -> dict:
    cfg = SynthConfig(motion="dance", frames=64, size=128, seed=1)
    synth_subject(SynthConfig(frames=2, size=32))  # compile / warm up
    sec = median_time(lambda: synth_subject(cfg), repeats, warmup=0)
    return {"frames": 64, "size": 128, "seconds": round(sec, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)  # rendering "per core"; fit threads are set per run
    load_before = os.getloadavg()
    render = bench_render(args.frames, args.repeats)
    torch.set_num_threads(os.cpu_count() or 1)
    fit = bench_fit(args.frames, max(1, args.repeats - 1))
    synth = bench_synth(args.repeats)
    path = write_result(
        "body",
        {
            "render": render,
            "fit": fit,
            "synth": synth,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
    )
    print(f"wrote {path}")
    print(
        f"IUV {render['iuv_fps_one_core']} frames/s on one core at {SIZE} px "
        f"(torch baseline {render['baseline_torch_vectorized_fps_one_core']}); fit "
        f"{fit['seconds_per_frame']} s/frame; synth 64x128 px in {synth['seconds']} s"
    )


if __name__ == "__main__":
    main()
