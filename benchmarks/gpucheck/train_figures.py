"""Training figures of one method at one preset, built only through its record: steps/s
and images/s with bf16 autocast and channels_last, the data in GPU memory against pinned
host memory, the model's FLOPs per image (counted by ``FlopCounterMode``: matrix products
and convolutions, forward and backward, of one training step in the last phase), the
achieved TFLOP/s against the bf16 peak, the largest batch that fits and its throughput.
``torch.compile`` runs in a child process (``compile_child``), later, with the time left."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from gpucheck import device as dev
from gpucheck.context import (
    STEP_KEYS,
    Context,
    blank,
    config,
    last_phase,
    load,
    on_device,
    timed,
    trainer,
    with_flops,
)
from ptx.methods.base import Method
from ptx.training.data import TrainData

BATCH_KEYS = (
    "tried", "largest_batch", "best_batch", "best_images_per_s", "best_tflops",
    "best_peak_fraction", "peak_memory_gib", "stopped_by", "gpu_free_gib",
)  # fmt: skip


def count_train_flops(t: Any, data: TrainData, clip: int, device) -> float:
    """GFLOP per image of one training step of one item (forward + backward + the
    discriminator's step, whatever the trainer does in its last phase; matrix products and
    convolutions grow linearly with the batch)."""
    b = data.batch(data.train_ids[:1], device)
    with FlopCounterMode(display=False) as counter:
        t.train_step(b, last_phase(t))
    return counter.get_total_flops() / clip / 1e9


def largest_batch(
    ctx: Context, t: Any, data: TrainData, first: dict[str, Any], clip: int, gflop: float | None
) -> dict[str, Any]:
    """Double the batch from that of ``first`` (figures measured already on this data)
    until it runs out of memory, reaches ``plan.max_batch`` or the search's time is up; a
    couple of timed steps at each."""
    plan, device = ctx.plan, ctx.device
    free = dev.free_gib(device)
    t0 = dev.now(device)
    tried: list[dict[str, Any]] = [{"fits": True, **first}]
    batch, stopped = 2 * first["batch"], "max_batch"
    while batch <= plan.max_batch:
        late = dev.now(device) - t0 > plan.batch_seconds or ctx.clock.left() < 30
        if tried and late:
            stopped = "time"
            break
        try:
            row = timed(ctx, t, data, batch, clip, warm=1, seconds=plan.timed_seconds / 3)
        except Exception as exc:
            if not dev.out_of_memory(exc):
                raise
            dev.free_memory(device)
            tried.append({"batch": batch, "fits": False})
            stopped = "out of memory"
            break
        tried.append({"fits": True, **with_flops(ctx, row, gflop)})
        batch *= 2
    fits = [r for r in tried if r["fits"]]
    best = max(fits, key=lambda r: r["images_per_s"]) if fits else {}
    return {
        "tried": tried,
        "largest_batch": fits[-1]["batch"] if fits else None,
        "best_batch": best.get("batch"),
        "best_images_per_s": best.get("images_per_s"),
        "best_tflops": best.get("tflops"),
        "best_peak_fraction": best.get("peak_fraction"),
        "peak_memory_gib": fits[-1]["peak_memory_gib"] if fits else None,
        "stopped_by": stopped,
        "gpu_free_gib": free,
    }


def measure(ctx: Context, method: Method, preset: str) -> dict[str, Any]:
    """Every training figure of ``method`` at ``preset`` but the compiled one."""
    device = ctx.device
    cfg = config(ctx, method, preset, data_device="cpu")
    host = load(ctx, method, cfg)
    t = trainer(ctx, method, cfg, host)
    nets = [m for m in vars(t).values() if isinstance(m, torch.nn.Module)]
    params = sum(p.numel() for m in nets for p in m.parameters())
    out: dict[str, Any] = {
        "size": cfg.size,
        "batch": cfg.batch,
        "clip": method.clip,
        "images_per_step": method.clip * cfg.batch,
        "frames": int(host.arrays["frames"].shape[0]),
        "params_m": round(params / 1e6, 3),
        "flops": {"train_gflop_per_image": None, "counted": "FlopCounterMode, one training step"},
    }
    gflop = count_train_flops(t, host, method.clip, device)
    out["flops"]["train_gflop_per_image"] = gflop
    train: dict[str, Any] = {}
    train["data_host"] = with_flops(ctx, timed(ctx, t, host, cfg.batch, method.clip), gflop)
    if ctx.cuda:
        gpu = on_device(host, device)
        del host
        train["data_gpu"] = with_flops(ctx, timed(ctx, t, gpu, cfg.batch, method.clip), gflop)
        train["largest_batch"] = largest_batch(ctx, t, gpu, train["data_gpu"], method.clip, gflop)
    else:
        train["data_gpu"] = blank(STEP_KEYS, "no CUDA device")
        train["largest_batch"] = largest_batch(ctx, t, host, train["data_host"], method.clip, gflop)
    train["compile"] = None  # filled in by the compile pass
    out["train"] = train
    ctx.states[(method.name, preset)] = (cfg, cpu_state(t), "the training benchmark's steps")
    del t
    dev.free_memory(device)
    return out


def cpu_state(t: Any) -> dict:
    """The trainer's state, copied to host memory (for rendering later)."""

    def cpu(x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu", copy=True)
        if isinstance(x, dict):
            return {k: cpu(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return type(x)(cpu(v) for v in x)
        return x

    return cpu(t.state_dict())
