"""Cost and accuracy of ptx's plain-PyTorch modulated deformable convolution
(``ptx.nn.deform``) against ``conv2d`` of the same shape.

Accuracy (float64): max |difference| from ``conv2d`` at zero offsets and unit mask, and
from the zero-padded convolution read at the shifted window for integer offsets (+1, -2).
Cost (float32, 3x3, stride 1, same size, random fractional offsets): median wall time of
the forward and of forward + backward (gradients of input, offsets, mask and weight),
against ``conv2d`` forward and forward + backward (input and weight), at a few sizes, on
the CPU (and on the GPU when one is present). Repeats are interleaved; the load average
before and after is recorded, since other processes share these cores.

    python benchmarks/bench_deform.py [--repeats 7] [--threads 1]

Writes benchmarks/results/deform.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from ptx.nn.deform import deform_conv2d

SIZES = [(4, 32, 32), (4, 16, 64), (2, 64, 64), (2, 128, 64)]
"""(batch, channels in = out, side)."""


def accuracy() -> dict[str, float]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 16, 16, generator=g, dtype=torch.float64)
    w = torch.randn(8, 8, 3, 3, generator=g, dtype=torch.float64)
    ref = F.conv2d(x, w, padding=1)
    zero = torch.zeros(2, 18, 16, 16, dtype=torch.float64)
    one = torch.ones(2, 9, 16, 16, dtype=torch.float64)
    err0 = (deform_conv2d(x, zero, one, w, None, 1) - ref).abs().max().item()
    off = zero.view(2, 9, 2, 16, 16).clone()
    off[:, :, 0], off[:, :, 1] = 1, -2
    out = deform_conv2d(x, off.view(2, 18, 16, 16), one, w, None, 1)
    err1 = (out[:, :, :15, 2:] - ref[:, :, 1:, :14]).abs().max().item()
    return {"zero_offset_max_abs": err0, "integer_shift_max_abs": err1}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timings(device: torch.device, b: int, c: int, s: int, repeats: int) -> dict[str, float]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, c, s, s, generator=g).to(device).requires_grad_(True)
    w = (torch.randn(c, c, 3, 3, generator=g) * 0.05).to(device).requires_grad_(True)
    off = (torch.rand(b, 18, s, s, generator=g) * 4 - 2).to(device).requires_grad_(True)
    mask = torch.rand(b, 9, s, s, generator=g).to(device).requires_grad_(True)

    def conv_f():
        with torch.no_grad():
            F.conv2d(x, w, padding=1)

    def conv_fb():
        F.conv2d(x, w, padding=1).sum().backward()

    def dcn_f():
        with torch.no_grad():
            deform_conv2d(x, off, mask, w, None, 1)

    def dcn_fb():
        deform_conv2d(x, off, mask, w, None, 1).sum().backward()

    fns = {"conv2d_fwd": conv_f, "conv2d_fwdbwd": conv_fb, "dcn_fwd": dcn_f,
           "dcn_fwdbwd": dcn_fb}  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            t = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t)
    out = {f"{k}_ms": statistics.median(v) * 1e3 for k, v in times.items()}
    out["ratio_fwd"] = out["dcn_fwd_ms"] / out["conv2d_fwd_ms"]
    out["ratio_fwdbwd"] = out["dcn_fwdbwd_ms"] / out["conv2d_fwdbwd_ms"]
    out["im2col_mb"] = b * c * 9 * s * s * 4 / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (1: other processes on these cores disturb a "
        "multi-threaded conv2d far more than a single thread)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = {"load_before": list(os.getloadavg()), "threads": torch.get_num_threads(),
           "accuracy_float64": accuracy(), "cpu": {}}  # fmt: skip
    for b, c, s in SIZES:
        key = f"b{b}_c{c}_{s}px"
        out["cpu"][key] = timings(torch.device("cpu"), b, c, s, args.repeats)
        print(key, {k: round(v, 2) for k, v in out["cpu"][key].items()}, flush=True)
    if torch.cuda.is_available():
        out["cuda"] = {}
        for b, c, s in SIZES + [(8, 128, 64), (8, 64, 128)]:
            out["cuda"][f"b{b}_c{c}_{s}px"] = timings(torch.device("cuda"), b, c, s, 20)
    out["load_after"] = list(os.getloadavg())
    rows = ["| shape | conv2d fwd ms | DCN fwd ms | ratio | conv2d fwd+bwd ms | DCN fwd+bwd ms "
            "| ratio |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, r in out["cpu"].items():
        rows.append(
            f"| {key} | {r['conv2d_fwd_ms']:.2f} | {r['dcn_fwd_ms']:.1f} | {r['ratio_fwd']:.1f}x "
            f"| {r['conv2d_fwdbwd_ms']:.2f} | {r['dcn_fwdbwd_ms']:.1f} | {r['ratio_fwdbwd']:.1f}x |"
        )
    acc = out["accuracy_float64"]
    out["markdown"] = (
        f"Float64 max |error|: zero offsets vs conv2d {acc['zero_offset_max_abs']:.1e}; "
        f"integer shift {acc['integer_shift_max_abs']:.1e}. CPU medians of {args.repeats}, "
        f"{out['threads']} threads, load {out['load_before'][0]:.1f} before / "
        f"{out['load_after'][0]:.1f} after:\n\n" + "\n".join(rows) + "\n"
    )
    print(out["markdown"])
    write_result("deform", out)


if __name__ == "__main__":
    main()
