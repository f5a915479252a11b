"""Quality per minute: a preset trained on the synthetic subject for a fixed wall-clock
budget, its held-out PSNR logged against seconds of training (evaluation time not
counted), with the preset's own schedule (warm-up, phases) and the data where ``auto`` puts
it; the held-out frames are the tail of the video the run never trains on. Ends with a
sample sheet (real | the method's images) of held-out frames."""

from __future__ import annotations

import time
from typing import Any

from gpucheck import device as dev
from gpucheck.context import Context, config, load
from gpucheck.train_figures import cpu_state
from ptx.methods.base import Method, TrainSetup
from ptx.training.data import BatchSampler
from ptx.training.loop import eval_ids, evaluate, render_sheet
from ptx.training.run import perceptual_loss

QUALITY_KEYS = (
    "method", "preset", "size", "batch", "budget_seconds", "target_db", "heldout_frames",
    "evaluated_on", "perceptual", "curve", "steps", "train_seconds", "final_psnr",
    "best_psnr", "seconds_to_target", "sheet",
)  # fmt: skip


def measure(ctx: Context, method: Method, preset: str, target_db: float) -> dict[str, Any]:
    plan, device = ctx.plan, ctx.device
    budget = min(plan.quality_seconds, max(1.0, ctx.clock.left() - 45))
    cfg = config(ctx, method, preset, data_device="auto")
    data = load(ctx, method, cfg)
    vgg, perceptual = perceptual_loss(method)
    t = method.build_trainer(TrainSetup(cfg, device, len(data.videos), vgg, frame=data.frame))
    t.init_from_data(data)
    held = len(data.heldout_ids)
    ids, is_held = eval_ids(data, held or cfg.eval_frames)
    sampler = BatchSampler(len(data.train_ids), cfg.batch, cfg.seed)
    start = time.perf_counter()
    curve: list[dict[str, Any]] = []

    def point(step: int, seconds: float) -> None:
        scores = evaluate(t, data, ids, method.scored, device)
        wall = time.perf_counter() - start
        curve.append({"seconds": seconds, "wall": wall, "step": step, **scores})
        ctx.clock.say(f"  {seconds:6.1f} s, step {step}: held-out PSNR {scores['psnr']:.2f} dB")

    point(0, 0.0)
    step, trained, next_eval = 0, 0.0, plan.quality_eval_every
    while trained < budget:
        t0 = time.perf_counter()
        t.train_step(data.batch(data.train_ids[sampler.next()], device), step)
        step += 1
        trained += dev.now(device) - t0  # synchronised: the step's own time
        if trained >= next_eval:
            point(step, trained)
            next_eval += plan.quality_eval_every
    if curve[-1]["step"] != step:
        point(step, trained)
    sheet = ctx.out / "quality.png"
    from PIL import Image

    Image.fromarray(render_sheet(t, data, ids, device)).save(sheet)
    reached = [p["seconds"] for p in curve if p["psnr"] >= target_db]
    ctx.states[(method.name, preset)] = (
        cfg, cpu_state(t), f"the quality run ({step} steps, {trained:.0f} s)"
    )  # fmt: skip
    return {
        "method": method.name,
        "preset": preset,
        "size": cfg.size,
        "batch": cfg.batch,
        "budget_seconds": budget,
        "target_db": target_db,
        "heldout_frames": held,
        "evaluated_on": "held-out frames" if is_held else "training frames (nothing held out)",
        "perceptual": perceptual,
        "curve": curve,
        "steps": step,
        "train_seconds": trained,
        "final_psnr": curve[-1]["psnr"],
        "best_psnr": max(p["psnr"] for p in curve),
        "seconds_to_target": reached[0] if reached else None,
        "sheet": sheet.name,
    }
