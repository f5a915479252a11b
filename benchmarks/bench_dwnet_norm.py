"""Why DwNet's generator did not carry held-out people through: its normalisation and the
resolution at which it warps the source's features.

DwNet's generator alone (no critic, no previous frame), trained with pixel L1 on random
(source, driving) frame pairs of 10 synthetic people at 64 px and evaluated on 32 fixed
pairs of 2 held-out people, for each of: instance norm (the released code's) at
``downs`` 0, no norm at ``downs`` 0, no norm at the paper's ``downs`` 2 (features warped at
16 x 16 at this size). The held-out PSNR every 250 steps; the warp-only PSNR (the source
warped by the coarse grid) on the same pairs. Same seeds, same pairs for every variant.

    python benchmarks/bench_dwnet_norm.py [--steps 750] [--variants instance-0,none-0,none-2]

Writes benchmarks/results/dwnet_norm.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, write_result

from ptx.body.synth import SynthConfig, synth_subject
from ptx.methods.dwnet.grids import coarse_flow
from ptx.methods.dwnet.nets import Generator
from ptx.nn.poselabels import unit
from ptx.nn.warp import warp_backward

MOTIONS = ("dance", "wave", "walk")


def _chw(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)


def pairs(people, n: int, rng: np.random.Generator, distinct: bool = False):
    """``n`` random (source, target) frame pairs of the same person: source, real, coarse
    flow, driving IUV (float)."""
    src, real, s_iuv, t_iuv = [], [], [], []
    for _ in range(n):
        p = people[rng.integers(len(people))]
        i, j = rng.choice(len(p.frames), 2, replace=not distinct)
        src.append(p.frames[i]), real.append(p.frames[j])
        s_iuv.append(p.iuv[i]), t_iuv.append(p.iuv[j])
    s, r, a, b = (_chw(np.stack(x)) for x in (src, real, s_iuv, t_iuv))
    return unit(s), unit(r), coarse_flow(a, b, "iuv"), unit(b)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean PSNR (dB) over the pictures, values in [-1, 1]."""
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    return float((10 * torch.log10(4 / mse)).mean())


def train(variant: str, people, test, steps: int, every: int) -> dict:
    norm, downs = variant.rsplit("-", 1)
    torch.manual_seed(0)
    g = Generator(16, 2, 1, refine=True, previous=False, downs=int(downs), norm=norm)
    opt = torch.optim.Adam(g.parameters(), 1e-3, betas=(0.5, 0.999))
    rng = np.random.default_rng(0)
    curve, t0 = [], time.perf_counter()
    for step in range(steps + 1):
        if step % every == 0:
            g.eval()
            with torch.no_grad():
                out = g(test[0], test[2], None, None, test[3])
            g.train()
            curve.append({"step": step, "psnr": round(psnr(out, test[1]), 3)})
            print(variant, curve[-1], flush=True)
        if step == steps:
            break
        src, real, flow, pose = pairs(people, 4, rng)
        loss = F.l1_loss(g(src, flow, None, None, pose), real)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return {"curve": curve, "final_psnr": curve[-1]["psnr"],
            "seconds": time.perf_counter() - t0}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=750)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--variants", default="instance-0,none-0,none-2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    people = [
        synth_subject(SynthConfig(MOTIONS[i % 3], frames=24, size=64, seed=100 + i))
        for i in range(12)
    ]
    test = pairs(people[10:], 32, np.random.default_rng(1), distinct=True)
    out = {"machine": machine(), "load_before": os.getloadavg(), "args": vars(args),
           "warp_psnr": psnr(warp_backward(test[0], test[2])[0], test[1]),
           "variants": {}}  # fmt: skip
    for v in args.variants.split(","):
        out["variants"][v] = train(v, people[:10], test, args.steps, args.every)
    out["load_after"] = os.getloadavg()
    print(write_result("dwnet_norm", out))


if __name__ == "__main__":
    main()
