"""DwNet's coarse warp grid: the paper's per-part nearest neighbour in UV space (from two
IUV images) against mesh flow (from two fitted bodies of one mesh), as a warp-only
renderer on synthetic people whose bodies are known exactly.

For ``--people`` synthetic people (64 px, ``--frames`` frames, the three motions in turn),
frame 0 is the source picture and every later frame the target: the source is warped by
each grid (``ptx.nn.warp``) and compared with the real target frame, on the whole frame and
on the pixels the target's body covers. Mesh flow gets the ground-truth bodies here (an
upper bound of what fitted bodies give); the IUV grid gets the ground-truth IUV images.
Also: milliseconds per grid (median).

    python benchmarks/bench_coarse_grid.py [--people 6] [--frames 16]

Writes benchmarks/results/coarse_grid.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_result

from ptx.body.meshflow import iuv_nearest_flow, mesh_flow
from ptx.body.model import TorchBody, posed_numpy
from ptx.body.open_model import open_body_model
from ptx.body.synth import SynthConfig, synth_subject
from ptx.nn.warp import warp_backward


def _warp(src: np.ndarray, flow: np.ndarray) -> np.ndarray:
    img = torch.from_numpy(src).permute(2, 0, 1)[None].float()
    out = warp_backward(img, torch.from_numpy(flow).permute(2, 0, 1)[None])[0]
    return out[0].permute(1, 2, 0).numpy()


def _psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray | None = None) -> float:
    d = (a.astype(np.float64) - b) ** 2
    mse = d[where].mean() if where is not None else d.mean()
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=6)
    ap.add_argument("--frames", type=int, default=16)
    args = ap.parse_args()
    model = open_body_model()
    body = TorchBody(model)
    rows = {"iuv": [], "mesh": [], "none": []}
    times = {"iuv": [], "mesh": []}
    for i in range(args.people):
        motion = ("dance", "wave", "walk")[i % 3]
        s = synth_subject(SynthConfig(motion, frames=args.frames, size=64, seed=200 + i))
        verts, _, _, _ = posed_numpy(body, s.betas, s.pose, s.transl, False)
        size = s.frames.shape[1:3]
        for t in range(1, args.frames):
            real = s.frames[t].astype(np.float32)
            on = s.iuv[t][..., 0] > 0
            t0 = time.perf_counter()
            near = iuv_nearest_flow(s.iuv[0], s.iuv[t])
            times["iuv"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            exact = mesh_flow(model, verts[0], s.camera, size, verts[t], s.camera, size)
            times["mesh"].append(time.perf_counter() - t0)
            for name, flow in (("iuv", near.flow), ("mesh", exact.flow),
                               ("none", np.zeros_like(near.flow))):  # fmt: skip
                w = _warp(s.frames[0], flow)
                rows[name].append(
                    (_psnr(w, real), _psnr(w, real, on), float(np.abs(w - real).mean() / 255))
                )
    out = {"machine": machine(), "load": os.getloadavg(), "args": vars(args)}
    for name, r in rows.items():
        a = np.array(r)
        out[name] = {"psnr": float(a[:, 0].mean()), "body_psnr": float(a[:, 1].mean()),
                     "l1": float(a[:, 2].mean()), "pairs": len(a)}  # fmt: skip
    for name, t in times.items():
        out[name]["ms_per_grid"] = 1000 * statistics.median(t)
    out["mesh_minus_iuv_body_psnr_db"] = out["mesh"]["body_psnr"] - out["iuv"]["body_psnr"]
    print(out)
    print(write_result("coarse_grid", out))


if __name__ == "__main__":
    main()
