"""What every measuring part shares: the plan, the clock, the device, the synthetic subject
and the states trained so far; building a method's config, data and trainer through its
record, and timing training steps. Nothing here names a method."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from gpucheck import device as dev
from gpucheck.plan import Clock, Plan
from ptx.errors import InputError
from ptx.methods.base import Method, TrainSetup
from ptx.training.data import BatchSampler, TrainData

STEP_KEYS = (
    "data_device", "batch", "images_per_step", "steps", "seconds_per_step", "steps_per_s",
    "images_per_s", "peak_memory_gib", "tflops", "peak_fraction",
)  # fmt: skip
"""The figures of one timed training loop."""


@dataclass
class Context:
    plan: Plan
    clock: Clock
    device: torch.device
    out: Path
    tmp: Path
    workspace: Any = None
    subject: str | None = None
    """The prepared synthetic subject (None when preparing it failed: toy arrays instead)."""
    peak_tflops: float | None = None
    """The bf16 peak the figures are compared with (the datasheet's, else the measured)."""
    states: dict[tuple[str, str], tuple[Any, dict, str]] = field(default_factory=dict)
    """(method, preset) -> (its config, the newest trainer state, how it was trained), for
    rendering."""

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def config(ctx: Context, method: Method, preset: str, **changes: Any) -> Any:
    """The preset's config as the check runs it: on the check's device, bf16 autocast and
    channels_last on, compile off, no TensorBoard; in the rehearsal at the smallest size
    the method accepts from ``plan.min_size`` up."""
    over: dict[str, Any] = {
        "device": str(ctx.device),
        "amp": True,
        "channels_last": True,
        "compile": False,
        "tensorboard": False,
        "data_device": "cpu",
        **changes,
    }
    if ctx.plan.min_size is None:
        return method.resolve_config(preset, over)
    error: InputError | None = None
    for k in range(1, 33):
        try:
            return method.resolve_config(preset, {**over, "size": ctx.plan.min_size * k})
        except InputError as exc:  # e.g. not a multiple of its downsamplings
            error = exc
    assert error is not None
    raise error


def load(ctx: Context, method: Method, cfg: Any) -> TrainData:
    """The subject's arrays at ``cfg.size`` where ``cfg.data_device`` says (toy arrays when
    the subject could not be prepared)."""
    if ctx.subject is not None:
        from ptx.training.load import load_subject_data

        return load_subject_data(ctx.workspace, [ctx.subject], method, cfg)
    from ptx.body.toydata import make_toy_subject
    from ptx.training.load import from_arrays

    toy = make_toy_subject(frames=min(ctx.plan.subject_frames, 32), size=cfg.size, seed=0)
    return from_arrays({"toy": toy.arrays()}, method, cfg, ctx.device)


def on_device(data: TrainData, device: torch.device) -> TrainData:
    """The same data held in ``device``'s memory."""
    return dataclasses.replace(
        data,
        arrays={k: v.to(device) for k, v in data.arrays.items()},
        backgrounds=None if data.backgrounds is None else data.backgrounds.to(device),
    )


def trainer(ctx: Context, method: Method, cfg: Any, data: TrainData) -> Any:
    """A new run's trainer built through the method's record, initialised from the data."""
    t = method.build_trainer(TrainSetup(cfg, ctx.device, len(data.videos), frame=data.frame))
    t.init_from_data(data)
    return t


def last_phase(t: Any) -> int:
    """A step in the trainer's last phase (every loss on: the steady state of a run)."""
    return max(0, int(t.total_steps) - 1)


def timed(
    ctx: Context,
    t: Any,
    data: TrainData,
    batch: int,
    clip: int,
    warm: int | None = None,
    seconds: float | None = None,
    steps: int | None = None,
) -> dict[str, Any]:
    """Train steps of ``batch`` items in the last phase: ``warm`` untimed, then ``steps``
    (default ``plan.timed_steps``) timed, fewer (at least 2) when ``seconds`` (default
    ``plan.timed_seconds``) run out."""
    plan, device = ctx.plan, ctx.device
    sampler = BatchSampler(len(data.train_ids), batch, 0)
    at = last_phase(t)

    def step() -> None:
        t.train_step(data.batch(data.train_ids[sampler.next()], device), at)

    for _ in range(plan.warm_steps if warm is None else warm):
        step()
    dev.reset_peak(device)
    t0 = dev.now(device)
    done, want = 0, steps or plan.timed_steps
    while done < want:
        step()
        done += 1
        if done >= 2 and dev.now(device) - t0 > (seconds or plan.timed_seconds):
            break
    per_step = (dev.now(device) - t0) / done
    images = clip * batch
    return {
        "data_device": str(data.device),
        "batch": batch,
        "images_per_step": images,
        "steps": done,
        "seconds_per_step": per_step,
        "steps_per_s": 1.0 / per_step,
        "images_per_s": images / per_step,
        "peak_memory_gib": dev.peak_gib(device),
        "tflops": None,
        "peak_fraction": None,
    }


def with_flops(ctx: Context, figures: dict[str, Any], gflop_per_image: float | None) -> dict:
    """Add achieved TFLOP/s and the fraction of the bf16 peak to timed figures."""
    if gflop_per_image is None or figures.get("images_per_s") is None:
        return figures
    tflops = gflop_per_image * figures["images_per_s"] / 1e3
    figures["tflops"] = tflops
    if ctx.peak_tflops:
        figures["peak_fraction"] = tflops / ctx.peak_tflops
    return figures


def blank(keys: tuple[str, ...], reason: str) -> dict[str, Any]:
    """Figures that were not measured: every key present, null, and why."""
    return {**dict.fromkeys(keys), "skipped": reason}
