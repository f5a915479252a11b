"""The training loop: batches, steps, evaluation on held-out frames, logs, checkpoints.

``run_training`` works on a :class:`~ptx.training.data.TrainData` and a run folder,
whatever built them (the workspace's Zarr stores, or arrays in a test).
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ptx import __version__
from ptx.cache.checkpoints import (
    latest_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from ptx.errors import InputError
from ptx.methods.d2g.losses import psnr
from ptx.methods.d2g.texture import unwrap_texture
from ptx.methods.d2g.trainer import D2GTrainer, NonFiniteLoss
from ptx.nn.vgg import VGGLoss
from ptx.training.data import BatchSampler, TrainData, take
from ptx.training.log import NullTrainReporter, RunLog, TrainReporter, sample_sheet


@dataclass
class TrainResult:
    """What a call to ``run_training`` did."""

    run_dir: Path
    checkpoint: Path
    start_step: int
    end_step: int
    total_steps: int
    initial: dict[str, float] | None
    """Held-out metrics before training (None when resuming)."""
    final: dict[str, float]
    """Held-out metrics at the end: psnr (output), psnr_static (static composite)."""
    steps_per_s: float
    seconds: float
    notes: list[str] = field(default_factory=list)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def eval_ids(data: TrainData, n: int) -> tuple[torch.Tensor, bool]:
    """Up to ``n`` evenly spaced held-out frames (or training frames when nothing is held
    out; the flag says which)."""
    ids, held = data.heldout_ids, True
    if len(ids) == 0:
        ids, held = data.train_frame_ids(), False
    if len(ids) > n > 0:
        pick = torch.linspace(0, len(ids) - 1, n).round().long()
        ids = ids[pick]
    return ids, held


@torch.no_grad()
def evaluate(trainer: D2GTrainer, data: TrainData, ids: torch.Tensor) -> dict[str, float]:
    """Mean PSNR (dB, whole frame) of the output and of the static composite on ``ids``."""
    g = trainer.G
    g.eval()
    out_p, static_p = [], []
    for chunk in ids.split(8):
        x = data.images(chunk, trainer.device)
        with trainer.autocast():
            o = g(trainer.prepare_input(x["pose"]), x["iuv"], x["video"])
        out_p.append(psnr(o.output, x["real"]))
        static_p.append(psnr(o.static, x["real"]))
    g.train()
    return {
        "psnr": float(torch.cat(out_p).mean()),
        "psnr_static": float(torch.cat(static_p).mean()),
    }


@torch.no_grad()
def render_sheet(trainer: D2GTrainer, data: TrainData, ids: torch.Tensor) -> Any:
    """uint8 (H, W, 3): one row per frame: real | static | output | background."""
    g = trainer.G
    g.eval()
    x = data.images(ids[:4], trainer.device)
    with trainer.autocast():
        o = g(trainer.prepare_input(x["pose"]), x["iuv"], x["video"])
    g.train()
    rows = [[x["real"][i], o.static[i], o.output[i], o.background[i]] for i in range(len(ids[:4]))]
    return sample_sheet(rows)


def init_from_data(trainer: D2GTrainer, data: TrainData) -> None:
    """Texture RGB unwrapped from the training frames through their IUV; backgrounds from
    the background stage."""
    ids = data.train_frame_ids()
    charts, _ = unwrap_texture(take(data.frames, ids), take(data.iuv, ids), trainer.cfg.tex_size)
    trainer.G.texture.set_rgb(charts.to(trainer.device))
    with torch.no_grad():
        bg = data.backgrounds.to(trainer.device).float() * (2.0 / 255.0) - 1.0
        trainer.G.background.copy_(bg)


def run_training(
    data: TrainData,
    cfg: Any,
    run_dir: Path,
    reporter: TrainReporter | None = None,
    *,
    vgg: VGGLoss | None = None,
    uv_state: dict[str, torch.Tensor] | None = None,
    uv_warmup: int = 0,
    resume: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    stop_at: int | None = None,
    rank: int = 0,
    world: int = 1,
) -> TrainResult:
    """Train (or continue, with ``resume`` = a loaded checkpoint) until the configured
    number of steps, or until ``stop_at`` (checkpointing there, as if interrupted).

    ``uv_state``: a pretrained UV generator's weights; ``uv_warmup``: UV-only steps first
    (ignored when resuming: the checkpoint's own value is used)."""
    reporter = reporter or NullTrainReporter()
    device = resolve_device(cfg.device)
    if device.type == "cpu" and cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if resume is not None:
        uv_warmup = int(resume["uv_warmup"])
    main = rank == 0
    ckpt_dir = run_dir / "checkpoints"
    trainer = D2GTrainer(cfg, len(data.videos), device, vgg, uv_warmup, ddp=world > 1)
    sampler = BatchSampler(len(data.train_ids), cfg.batch, cfg.seed + 7919 * rank)
    step = 0
    if resume is not None:
        if len(resume["sampler"]) != world:
            raise InputError(
                f"This run was trained by {len(resume['sampler'])} process(es); it is being "
                f"resumed by {world}.",
                "Resume with the same number of processes (torchrun --nproc_per_node).",
            )
        trainer.load_state_dict(resume)
        sampler.load_state_dict(resume["sampler"][rank])
        set_rng_state(resume["rng"])
        step = int(resume["step"])
    else:
        init_from_data(trainer, data)
        if uv_state is not None:
            trainer.G.uv_generator.load_state_dict(uv_state)
    total = trainer.total_steps
    end = min(total, stop_at) if stop_at is not None else total
    log = RunLog(run_dir, cfg.tensorboard and main, resume_step=step if resume else None)
    notes: list[str] = []

    def note(message: str) -> None:
        notes.append(message)
        if main:
            log.note(message)
            reporter.note(message)

    for message in (meta or {}).get("notes", []):
        note(message)
    ids, held = eval_ids(data, cfg.eval_frames)
    if not held:
        note("Nothing is held out (holdout=0): evaluating on training frames.")
    initial = None
    start_step = step
    if resume is None and main:
        initial = evaluate(trainer, data, ids)
        log.row(0, {"phase": trainer.phase(0), **initial})
        log.sample(0, render_sheet(trainer, data, ids))
    reporter.start(run_dir, step, total)
    t0 = time.perf_counter()
    window: deque[float] = deque(maxlen=20)
    last_path = latest_checkpoint(ckpt_dir)

    def checkpoint(at: int) -> Path:
        payload = {
            **trainer.state_dict(),
            "sampler": _gather_samplers(sampler, world),
            "rng": rng_state(),
            "uv_warmup": uv_warmup,
            "config": dataclasses.asdict(cfg),
            "meta": {**(meta or {}), "ptx_version": __version__},
        }
        if not main:
            return last_path or ckpt_dir
        return save_checkpoint(ckpt_dir, at, payload, cfg.keep_checkpoints)

    try:
        while step < end:
            batch = data.batch(data.train_ids[sampler.next()], device)
            tick = time.perf_counter()
            try:
                values = trainer.train_step(batch, step)
            except NonFiniteLoss as exc:
                where = f"{last_path}" if last_path else "none was written yet"
                note(f"stopped at step {step + 1}: {exc.message} Last good checkpoint: {where}.")
                raise NonFiniteLoss(
                    exc.message, f"The last good checkpoint is kept ({where}). {exc.hint}"
                ) from None
            step += 1
            window.append(time.perf_counter() - tick)
            rate = len(window) / max(sum(window), 1e-9)
            values["steps_per_s"] = rate
            if main:
                reporter.step(step, total, values)
                if step % cfg.log_every == 0 or step == end:
                    lr = trainer.opt_g.param_groups[0]["lr"]
                    log.row(step, {"phase": trainer.phase(step - 1), "lr": lr, **values})
                if cfg.eval_every and step % cfg.eval_every == 0 and step != end:
                    log.row(step, evaluate(trainer, data, ids))
                if cfg.sample_every and step % cfg.sample_every == 0 and step != end:
                    log.sample(step, render_sheet(trainer, data, ids))
            if step % cfg.checkpoint_every == 0 or step == end:
                last_path = checkpoint(step)
        if last_path is None:  # nothing to train (steps=0): still leave a checkpoint
            last_path = checkpoint(step)
        final = evaluate(trainer, data, ids) if main else {}
        if main:
            log.row(step, final)
            log.sample(step, render_sheet(trainer, data, ids))
    finally:
        log.close()
        reporter.end()
    seconds = time.perf_counter() - t0
    return TrainResult(
        run_dir=run_dir,
        checkpoint=last_path or ckpt_dir,
        start_step=start_step,
        end_step=step,
        total_steps=total,
        initial=initial,
        final=final,
        steps_per_s=(step - start_step) / max(seconds, 1e-9),
        seconds=seconds,
        notes=notes,
    )


def _gather_samplers(sampler: BatchSampler, world: int) -> list[dict[str, Any]]:
    """Every rank's sampler state (rank order), so a resumed DDP run continues each one."""
    state = sampler.state_dict()
    if world <= 1:
        return [state]
    import torch.distributed as dist

    out: list[Any] = [None] * world
    dist.all_gather_object(out, state)
    return out
