"""The training loop, the same for every method: batches, steps, evaluation on held-out
frames, logs, checkpoints.

``run_training`` works on a :class:`~ptx.training.data.TrainData`, a method's
:class:`~ptx.methods.base.Trainer` and a run folder, whatever built them (the workspace's
Zarr stores, or arrays in a test). It knows no method by name: the method's record gives
the log's columns and the images it scores.
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
from ptx.cache.atomic import remove_stale_temp_files
from ptx.cache.checkpoints import latest_checkpoint, rng_state, save_checkpoint, set_rng_state
from ptx.errors import InputError, NonFiniteLoss
from ptx.methods.base import Method, Trainer
from ptx.nn.losses import psnr
from ptx.training.data import BatchSampler, TrainData
from ptx.training.ddp import gather_samplers
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
    """Held-out metrics at the end: psnr (output), psnr_<name> (the method's other images)."""
    steps_per_s: float
    seconds: float
    notes: list[str] = field(default_factory=list)


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


def psnr_column(image: str) -> str:
    return "psnr" if image == "output" else f"psnr_{image}"


@torch.no_grad()
def evaluate(
    trainer: Trainer, data: TrainData, ids: torch.Tensor, scored: tuple[str, ...], device
) -> dict[str, float]:
    """Mean PSNR (dB, whole frame) of each scored image on frames ``ids``."""
    values: dict[str, list[torch.Tensor]] = {k: [] for k in scored}
    for chunk in ids.split(8):
        b = data.images(chunk, device)
        images = trainer.eval_images(b)
        for k in scored:
            values[k].append(psnr(images[k], b.real))
    return {psnr_column(k): float(torch.cat(v).mean()) for k, v in values.items()}


@torch.no_grad()
def render_sheet(trainer: Trainer, data: TrainData, ids: torch.Tensor, device) -> Any:
    """uint8 (rows, cols, 3): one row per frame: real | the method's eval images."""
    b = data.images(ids[:4], device)
    images = trainer.eval_images(b)
    rows = [[b.real[i], *(img[i] for img in images.values())] for i in range(len(b.real))]
    return sample_sheet(rows)


def run_training(
    data: TrainData,
    method: Method,
    cfg: Any,
    trainer: Trainer,
    run_dir: Path,
    device: torch.device,
    reporter: TrainReporter | None = None,
    *,
    resume: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    stop_at: int | None = None,
    rank: int = 0,
    world: int = 1,
    time_limit: float | None = None,
) -> TrainResult:
    """Train (or continue, with ``resume`` = a loaded checkpoint) until the trainer's
    number of steps, or until ``stop_at``, or until ``time_limit`` seconds of training have
    passed (checkpointing there, as if interrupted; the schedule stays the full run's)."""
    reporter = reporter or NullTrainReporter()
    main = rank == 0
    ckpt_dir = run_dir / "checkpoints"
    if main:  # under the run's lock: what a killed save or log write left behind
        remove_stale_temp_files(ckpt_dir)
        remove_stale_temp_files(run_dir)
    sampler = BatchSampler(len(data.train_ids), cfg.batch, cfg.seed + 7919 * rank)
    step = 0
    if resume is not None:
        saved = len(resume["sampler"])
        if saved != world:  # each rank's batch order is in the checkpoint: exact or refused
            how = f"torchrun --nproc_per_node {saved}" if saved > 1 else "one process"
            raise InputError(
                f"This run was trained by {saved} process(es); it is being resumed by {world}.",
                f"Resume with the same number of processes ({how}): each continues its own "
                "batch order.",
            )
        trainer.load_state_dict(resume["trainer"])
        sampler.load_state_dict(resume["sampler"][rank])
        set_rng_state(resume["rng"])
        step = int(resume["step"])
    else:
        trainer.init_from_data(data)
    total = trainer.total_steps
    end = min(total, stop_at) if stop_at is not None else total
    # rank 0 writes the run's files (another rank's RunLog would rewrite log.csv on resume)
    log = RunLog(
        run_dir, method.columns(), cfg.tensorboard and main, resume_step=step if resume else None
    ) if main else None  # fmt: skip
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
        initial = evaluate(trainer, data, ids, method.scored, device)
        log.row(0, {"phase": trainer.phase(0), **initial})
        log.sample(0, render_sheet(trainer, data, ids, device))
    reporter.start(run_dir, step, total)
    t0 = time.perf_counter()
    window: deque[float] = deque(maxlen=20)
    last_path = latest_checkpoint(ckpt_dir)

    def checkpoint(at: int) -> Path:
        payload = {
            "method": method.name,
            "frame": list(data.frame),
            "canonical": list(data.canonical or data.frame),
            "trainer": trainer.state_dict(),
            "sampler": gather_samplers(sampler, world),
            "rng": rng_state(),
            "config": dataclasses.asdict(cfg),
            "meta": {**(meta or {}), "ptx_version": __version__},
        }
        if not main:
            return last_path or ckpt_dir
        return save_checkpoint(ckpt_dir, at, payload, cfg.keep_checkpoints)

    deadline = None if time_limit is None else time.perf_counter() + time_limit
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
            values["steps_per_s"] = len(window) / max(sum(window), 1e-9)
            if main:
                reporter.step(step, total, values)
                if step % cfg.log_every == 0 or step == end:
                    log.row(step, {"phase": trainer.phase(step - 1), "lr": trainer.lr(), **values})
                if cfg.eval_every and step % cfg.eval_every == 0 and step != end:
                    log.row(step, evaluate(trainer, data, ids, method.scored, device))
                if cfg.sample_every and step % cfg.sample_every == 0 and step != end:
                    log.sample(step, render_sheet(trainer, data, ids, device))
            out_of_time = deadline is not None and time.perf_counter() >= deadline
            if step % cfg.checkpoint_every == 0 or step == end or out_of_time:
                last_path = checkpoint(step)
            if out_of_time:
                break
        if last_path is None:  # nothing to train (steps=0): still leave a checkpoint
            last_path = checkpoint(step)
        final = evaluate(trainer, data, ids, method.scored, device) if main else {}
        if main:
            log.row(step, final)
            log.sample(step, render_sheet(trainer, data, ids, device))
    finally:
        if log is not None:
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
