"""Rendering figures of one method at one preset: frames/s of its renderer (built through
the method's record from the newest trained state) in bf16 autocast, batched, at batch 1
and every power of two up to the best, on inputs already in device memory (the model
alone); its output checked against the fp32 render of the same frames (TF32 off; PSNR
between them); FLOPs per frame."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from gpucheck import device as dev
from gpucheck.context import Context, load
from ptx.methods.base import Method, RenderInputs
from ptx.nn.losses import psnr

RENDER_KEYS = (
    "size", "batch1_fps", "best_batch", "best_fps", "by_batch", "stopped_by", "gflop_per_frame",
    "psnr_bf16_vs_fp32_db", "psnr_min_db", "psnr_ok", "peak_memory_gib", "model",
)  # fmt: skip


def _inputs(data: Any, method: Method, cfg: Any, n: int, device) -> RenderInputs:
    """n frames' inputs (frames cycled when the subject has fewer), on ``device``."""
    ids = torch.arange(n) % int(data.arrays["frames"].shape[0])
    b = data.images(ids, device)
    own = {  # keypoints live beside the image arrays (edn's face boxes read them)
        k: (data.keypoints[ids] if k == "keypoints" else data.take(k, ids)).to(device)
        for k in method.render_arrays(cfg)
    }
    return RenderInputs(b.pose, own, b.video, None)


def _fps(ctx: Context, renderer: Any, x: RenderInputs, n: int) -> float:
    """Frames/s of ``renderer`` on ``x`` (n frames) in bf16, timed for plan.render_seconds."""
    device = ctx.device
    state = renderer.start()
    with dev.bf16(device):
        for _ in range(ctx.plan.warm_steps):
            _, state = renderer(x, state)
        calls, t0 = 0, dev.now(device)
        while True:
            _, state = renderer(x, state)
            calls += 1
            if calls >= 2 and dev.now(device) - t0 > ctx.plan.render_seconds:
                break
    return calls * n / (dev.now(device) - t0)


@torch.inference_mode()
def measure(ctx: Context, method: Method, preset: str) -> dict[str, Any]:
    """Every rendering figure of ``method`` at ``preset`` (its newest trained state)."""
    device, plan = ctx.device, ctx.plan
    dev.free_memory(device)
    cfg, state, model = ctx.states[(method.name, preset)]
    data = load(ctx, method, cfg)
    renderer = method.build_renderer(cfg, state, device, data.frame)
    check = _inputs(data, method, cfg, min(8, plan.render_max_batch), device)  # vs fp32
    with dev.strict_fp32():
        out32, _ = renderer(check, renderer.start())
    with dev.bf16(device):
        out16, _ = renderer(check, renderer.start())
    scores = psnr(out16.output.float(), out32.output.float())
    one = _inputs(data, method, cfg, 1, device)
    with FlopCounterMode(display=False) as counter:
        renderer(one, renderer.start())
    by_batch: list[dict[str, Any]] = []
    n, stopped = 1, "max_batch"
    dev.reset_peak(device)
    while n <= plan.render_max_batch:
        if by_batch and ctx.clock.left() < 20:
            stopped = "time"
            break
        try:
            fps = _fps(ctx, renderer, _inputs(data, method, cfg, n, device), n)
        except Exception as exc:
            if not dev.out_of_memory(exc):
                raise
            dev.free_memory(device)
            stopped = "out of memory"
            break
        by_batch.append({"batch": n, "fps": fps})
        if len(by_batch) >= 3 and fps < 0.9 * max(r["fps"] for r in by_batch):
            stopped = "slower than a smaller batch"
            break
        n *= 2
    best = max(by_batch, key=lambda r: r["fps"])
    result = {
        "size": cfg.size,
        "batch1_fps": by_batch[0]["fps"],
        "best_batch": best["batch"],
        "best_fps": best["fps"],
        "by_batch": by_batch,
        "stopped_by": stopped,
        "gflop_per_frame": counter.get_total_flops() / 1e9,
        "psnr_bf16_vs_fp32_db": float(scores.mean()),
        "psnr_min_db": float(scores.min()),
        "psnr_ok": bool(scores.min() > plan.render_min_psnr),
        "peak_memory_gib": dev.peak_gib(device),
        "model": model,
    }
    del renderer, data
    dev.free_memory(device)
    return result
