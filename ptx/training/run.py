"""`ptx train`: person-specific training of any registered method from a subject's
prepared arrays.

Runs live in ``<workspace>/runs/<subject>/<method>/<timestamp>/`` (``ptx.cache.runs``).
``--resume`` continues the newest run of the subject (of ``method`` when given, else of
any method), or the run folder ``run``, from its ``last`` checkpoint with the run's saved
settings; on the CPU the result is bit-identical to a run that was never interrupted.
Under ``torchrun --nproc_per_node N`` the same call trains with DDP (one process per GPU,
``batch`` items per process; rank 0 writes the run).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any

import torch

from ptx import __version__
from ptx.cache.checkpoints import load_checkpoint, resolve_checkpoint
from ptx.cache.locks import exclusive_lock
from ptx.cache.runs import (
    changed_inputs,
    claim_run_dir,
    read_run_config,
    record_tokens,
    resume_target,
    write_run_config,
)
from ptx.cache.workspace import Workspace, validate_name
from ptx.config import build_config
from ptx.devices import resolve_device, use_cpu_threads
from ptx.errors import InputError, MissingWeightsError
from ptx.methods.base import PERSON, Method, TrainSetup
from ptx.methods.registry import get_method
from ptx.training import ddp
from ptx.training.data import TrainData
from ptx.training.ddp import apply_distributed, distributed, rank_zero_lock, shared_path
from ptx.training.load import load_subject_data, stages_read
from ptx.training.log import TrainReporter
from ptx.training.loop import TrainResult, run_training


def perceptual_loss(method: Method) -> tuple[Any, str | None]:
    """The VGG-19 loss when the method uses one and its weights are present and official,
    else None; plus a note saying which was used (None for methods without one)."""
    if method.perceptual_fallback is None:
        return None, None
    from ptx.nn.vgg import load_vgg_loss

    try:
        return load_vgg_loss(), "Perceptual loss: VGG-19 (vgg19-dcbb9e9d.pth)."
    except MissingWeightsError as exc:
        why = exc.message
    except InputError as exc:
        why = f"{exc.message} (refused)"
    return None, (
        f"VGG-19 perceptual loss unavailable: {why} Training uses "
        f"{method.perceptual_fallback} instead."
    )


def _video_info(data: TrainData) -> list[dict[str, Any]]:
    return [
        {
            "video": s.name,
            "frames": s.count,
            "train_frames": [0, s.n_train],
            "heldout_frames": [s.n_train, s.count],
        }
        for s in data.videos
    ]


def run_info(
    ws: Workspace,
    m: Method,
    cfg: Any,
    data: Any,
    videos: list[dict[str, Any]],
    preset: str,
    overrides: dict[str, Any],
    notes: list[str],
    people: dict[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """A new run's ``config.yaml``: the method, ``people`` (who it trains on), the preset
    and overrides, the videos with their frame and canonical frame, ``extra`` fields, the
    record tokens of the inputs it reads, and the resolved settings."""
    return {
        "method": m.name,
        **people,
        "preset": preset,
        "overrides": {k: str(v) for k, v in overrides.items()},
        "ptx_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "notes": notes,
        "videos": videos,
        "frame": list(data.frame),
        "canonical": list(data.canonical or data.frame),
        **extra,
        "inputs": record_tokens(ws, [v["video"] for v in videos], stages_read(m, cfg)),
        "config": dataclasses.asdict(cfg),
    }


def _prepare_device(cfg: Any) -> torch.device:
    """The training device; on the CPU, torch's thread count. A count chosen from the free
    cores (``threads`` = 0) is written into ``cfg``, so the run's config records it and a
    resume uses the same count: gradients summed by another number of threads differ in
    their last bits, and a resume must continue bit for bit."""
    device = resolve_device(cfg.device)
    if device.type == "cpu":
        cfg.threads = use_cpu_threads(cfg.threads or None)
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return device


def train(
    workspace: Workspace | Path | str | None,
    subject: str,
    preset: str = "tiny",
    overrides: dict[str, Any] | None = None,
    *,
    method: str | None = None,
    resume: bool = False,
    run: Path | None = None,
    reporter: TrainReporter | None = None,
    stop_at: int | None = None,
    time_limit: float | None = None,
) -> TrainResult:
    """Train ``method`` (default d2g) on ``subject`` (``overrides``: {field: value} over the
    preset), or continue its newest run (``resume``) or the run folder ``run``; stop early
    at step ``stop_at`` or after ``time_limit`` seconds of training."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace, create=False)
    validate_name(subject)
    ws.subject(subject)  # a clear error for an unknown subject
    overrides = dict(overrides or {})
    if resume or run is not None:
        return _resume(ws, subject, method, overrides, run, reporter, stop_at, time_limit)
    m = get_method(method)
    if m.kind != PERSON:
        raise InputError(
            f"{m.name} is a one-shot method: it trains on many subjects, not on one.",
            f"Use `ptx train --method {m.name} --subjects a,b,c`.",
        )
    cfg = m.resolve_config(preset, overrides)
    rank, world = distributed()
    apply_distributed(cfg, world)
    device = _prepare_device(cfg)
    data = load_subject_data(ws, [subject], m, cfg)
    vgg, vgg_note = perceptual_loss(m)
    trainer = m.build_trainer(
        TrainSetup(
            cfg, device, len(data.videos), vgg, ddp.active(), ws, resume=False, frame=data.frame
        )
    )
    notes = [*trainer.notes, *([vgg_note] if vgg_note else []), *ddp.notes(world)]
    run_dir = shared_path(lambda: claim_run_dir(ws, subject, m.name), rank, world)
    videos = _video_info(data)
    if rank == 0:
        people = {"subject": subject, "subjects": [subject]}
        info = run_info(ws, m, cfg, data, videos, preset, overrides, notes, people)
        write_run_config(run_dir, info)
    meta = {"subject": subject, "videos": videos, "notes": notes}
    with rank_zero_lock(lambda: _lock(run_dir), rank):
        return run_training(
            data, m, cfg, trainer, run_dir, device, reporter, meta=meta, stop_at=stop_at,
            rank=rank, world=world, time_limit=time_limit,
        )  # fmt: skip


def _resume(
    ws: Workspace,
    subject: str,
    method: str | None,
    overrides: dict[str, Any],
    run: Path | None,
    reporter: TrainReporter | None,
    stop_at: int | None,
    time_limit: float | None = None,
) -> TrainResult:
    wanted = get_method(method) if method is not None else None
    run_dir = Path(run) if run is not None else resume_target(ws, subject, wanted and wanted.name)
    info = read_run_config(run_dir)
    m = get_method(info.get("method", "d2g"))
    if wanted is not None and wanted.name != m.name:
        raise InputError(f"Run {run_dir} is a {m.name} run, not {wanted.name}.")
    cfg = _resumed_config(m, info, overrides)
    ckpt_path, skipped = resolve_checkpoint(run_dir / "checkpoints")
    if ckpt_path is None:
        raise InputError(
            f"Run {run_dir} has no checkpoint to resume from.",
            f"Start a new run with `ptx train --subject {subject}` (it reuses this folder).",
        )
    state = load_checkpoint(ckpt_path)
    rank, world = distributed()
    apply_distributed(cfg, world)
    device = _prepare_device(cfg)
    data = load_subject_data(ws, info.get("subjects", [subject]), m, cfg)
    saved = tuple(state.get("frame") or (cfg.size, cfg.size))
    if saved != data.frame:
        raise InputError(
            f"Run {run_dir} trained at {saved[1]}x{saved[0]} (W x H); the subject's videos now "
            f"give {data.frame[1]}x{data.frame[0]} (they were prepared again with another "
            "shape).",
            "Start a new run without --resume.",
        )
    vgg, vgg_note = perceptual_loss(m)
    trainer = m.build_trainer(
        TrainSetup(
            cfg, device, len(data.videos), vgg, ddp.active(), ws, resume=True, frame=data.frame
        )
    )
    notes = [*skipped, f"Resumed from {ckpt_path.name} of run {run_dir} ({m.name})."]
    notes += [f"Its inputs changed since it started: {c}." for c in changed_inputs(ws, info)]
    notes += [vgg_note] if vgg_note else []
    notes += ddp.notes(world)
    meta = {**state.get("meta", {}), "notes": notes}
    with rank_zero_lock(lambda: _lock(run_dir), rank):
        return run_training(
            data, m, cfg, trainer, run_dir, device, reporter, resume=state, meta=meta,
            stop_at=stop_at, rank=rank, world=world, time_limit=time_limit,
        )  # fmt: skip


def _resumed_config(m: Method, info: dict[str, Any], overrides: dict[str, Any]) -> Any:
    """The run's saved settings with ``overrides``; fields that shape the networks or the
    data order cannot change."""
    saved = m.config_from_dict(info.get("config", {}))
    cfg = build_config(m.config, {**dataclasses.asdict(saved), **overrides}, "train")
    changed = [k for k in m.fixed if getattr(cfg, k) != getattr(saved, k)]
    if changed:
        raise InputError(
            f"--set {changed[0]}=... cannot change when resuming (it shapes the model or the "
            "data order).",
            "Start a new run without --resume to use it.",
        )
    m.validate(cfg)
    return cfg


def _lock(run_dir: Path) -> Any:
    return exclusive_lock(run_dir / "lock", f"Run {run_dir}")
