"""`ptx train`: D2G-Net person-specific training from a subject's prepared arrays.

Runs live in ``<workspace>/runs/<subject>/d2g/<timestamp>/``::

    config.yaml              resolved settings, the subject's videos and held-out ranges
    checkpoints/step-000001000.pt, checkpoints/last
    log.csv  train.log  samples/step-*.png  tb/ (TensorBoard)

``--resume`` continues the newest run of the subject (or ``run``) from its ``last``
checkpoint with the run's saved settings; on the CPU the result is bit-identical to a run
that was never interrupted. Under ``torchrun --nproc_per_node N`` the same call trains
with DDP (one process per GPU, ``batch`` items per process; rank 0 writes the run).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from ptx import __version__
from ptx.cache.atomic import atomic_write_bytes
from ptx.cache.checkpoints import latest_checkpoint, load_checkpoint
from ptx.cache.locks import exclusive_lock
from ptx.cache.workspace import Workspace, validate_name
from ptx.config import build_config
from ptx.errors import InputError, MissingWeightsError, StageError
from ptx.methods.d2g.config import (
    IMMUTABLE_ON_RESUME,
    D2GConfig,
    check_config,
    config_from_dict,
    resolve_config,
)
from ptx.methods.d2g.pretrain import find_pretrained_uv
from ptx.nn.vgg import VGGLoss, load_vgg_loss
from ptx.training.data import TrainData
from ptx.training.load import load_subject_data
from ptx.training.log import TrainReporter
from ptx.training.loop import TrainResult, run_training

METHOD = "d2g"


# --- run folders ----------------------------------------------------------------------------
def runs_dir(ws: Workspace, subject: str) -> Path:
    return ws.root / "runs" / validate_name(subject) / METHOD


def new_run_dir(ws: Workspace, subject: str) -> Path:
    """A fresh ``runs/<subject>/d2g/<timestamp>`` folder (suffixed when the second is taken)."""
    base = runs_dir(ws, subject)
    base.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        path = base / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise StageError(f"Cannot create a run folder in {base}.")


def latest_run(ws: Workspace, subject: str) -> Path | None:
    """The newest run of ``subject`` that has a checkpoint."""
    base = runs_dir(ws, subject)
    runs = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    done = [p for p in runs if latest_checkpoint(p / "checkpoints") is not None]
    return done[-1] if done else None


def write_run_config(run_dir: Path, info: dict[str, Any]) -> None:
    text = yaml.safe_dump(info, sort_keys=False, default_flow_style=None)
    atomic_write_bytes(run_dir / "config.yaml", text.encode())


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise InputError(f"{run_dir} has no config.yaml; it is not a ptx training run.")
    return yaml.safe_load(path.read_text()) or {}


# --- data -----------------------------------------------------------------------------------
def perceptual_loss() -> tuple[VGGLoss | None, str]:
    """The VGG-19 loss when its weights are present and official, else None; plus a note
    saying which was used."""
    try:
        return load_vgg_loss(), "Perceptual loss: VGG-19 (vgg19-dcbb9e9d.pth)."
    except MissingWeightsError as exc:
        why = exc.message
    except InputError as exc:
        why = f"{exc.message} (refused)"
    return None, (
        f"VGG-19 perceptual loss unavailable: {why} Training uses pixel L1 + discriminator "
        "feature matching instead."
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


# --- the command ----------------------------------------------------------------------------
def train(
    workspace: Workspace | Path | str | None,
    subject: str,
    preset: str = "tiny",
    overrides: dict[str, Any] | None = None,
    *,
    resume: bool = False,
    run: Path | None = None,
    reporter: TrainReporter | None = None,
    stop_at: int | None = None,
) -> TrainResult:
    """Train D2G-Net on ``subject`` (``overrides``: {field: value} over the preset), or
    continue its newest run (``resume``) or the run folder ``run``."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace, create=False)
    validate_name(subject)
    ws.subject(subject)  # a clear error for an unknown subject
    rank, world = _distributed()
    overrides = dict(overrides or {})
    if resume or run is not None:
        run_dir = Path(run) if run is not None else latest_run(ws, subject)
        if run_dir is None:
            raise InputError(
                f"Subject '{subject}' has no training run to resume.",
                f"Start one with `ptx train --subject {subject}`.",
            )
        info = read_run_config(run_dir)
        cfg = _resumed_config(info, overrides)
        ckpt_path = latest_checkpoint(run_dir / "checkpoints")
        if ckpt_path is None:
            raise InputError(f"Run {run_dir} has no checkpoint to resume from.")
        state = load_checkpoint(ckpt_path)
        _apply_distributed(cfg, world)
        data = load_subject_data(ws, info.get("subjects", [subject]), cfg)
        vgg, vgg_note = perceptual_loss()
        meta = {**state.get("meta", {}), "notes": [f"Resumed from {ckpt_path.name}.", vgg_note]}
        with _run_lock(run_dir, rank):
            return run_training(
                data, cfg, run_dir, reporter, vgg=vgg, resume=state, meta=meta,
                stop_at=stop_at, rank=rank, world=world,
            )  # fmt: skip
    cfg = resolve_config(preset, overrides)
    _apply_distributed(cfg, world)
    data = load_subject_data(ws, [subject], cfg)
    vgg, vgg_note = perceptual_loss()
    uv_state, uv_warmup, uv_note = _uv_start(ws, cfg)
    run_dir = _shared_run_dir(ws, subject, rank, world)
    info = {
        "method": METHOD,
        "subject": subject,
        "subjects": [subject],
        "preset": preset,
        "overrides": {k: str(v) for k, v in overrides.items()},
        "ptx_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "uv_init": uv_note,
        "perceptual": vgg_note,
        "videos": _video_info(data),
        "config": dataclasses.asdict(cfg),
    }
    if rank == 0:
        write_run_config(run_dir, info)
    meta = {"subject": subject, "videos": info["videos"], "uv_init": uv_note}
    with _run_lock(run_dir, rank):
        return run_training(
            data, cfg, run_dir, reporter, vgg=vgg, uv_state=uv_state, uv_warmup=uv_warmup,
            meta={**meta, "notes": [uv_note, vgg_note]}, stop_at=stop_at, rank=rank, world=world,
        )  # fmt: skip


def _uv_start(ws: Workspace, cfg: D2GConfig) -> tuple[dict | None, int, str]:
    """(pretrained UV weights or None, warm-up steps, a note saying which happened)."""
    found = find_pretrained_uv(ws, cfg)
    if found is not None:
        state, path = found
        return state, 0, f"UV generator: loaded the pretrained one from {path}."
    if cfg.uv_warmup_steps > 0:
        return (
            None,
            cfg.uv_warmup_steps,
            (
                f"UV generator: no compatible pretrained one in {ws.root / 'runs' / '_pretrained'}; "
                f"warming it up on this subject for {cfg.uv_warmup_steps} steps first."
            ),
        )
    return None, 0, "UV generator: no pretrained one and uv_warmup_steps=0; trained from scratch."


def _resumed_config(info: dict[str, Any], overrides: dict[str, Any]) -> D2GConfig:
    """The run's saved settings with ``overrides``; fields that shape the networks or the
    data order cannot change."""
    saved = config_from_dict(info.get("config", {}))
    cfg = build_config(D2GConfig, {**dataclasses.asdict(saved), **overrides}, "train")
    changed = [k for k in IMMUTABLE_ON_RESUME if getattr(cfg, k) != getattr(saved, k)]
    if changed:
        raise InputError(
            f"--set {changed[0]}=... cannot change when resuming (it shapes the model or the "
            "data order).",
            "Start a new run without --resume to use it.",
        )
    check_config(cfg)
    return cfg


def _run_lock(run_dir: Path, rank: int) -> Any:
    import contextlib

    if rank != 0:
        return contextlib.nullcontext()
    return exclusive_lock(run_dir / "lock", f"Run {run_dir}")


# --- DDP ------------------------------------------------------------------------------------
def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend)
    return dist.get_rank(), dist.get_world_size()


def _apply_distributed(cfg: D2GConfig, world: int) -> None:
    if world > 1 and torch.cuda.is_available():
        cfg.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"


def _shared_run_dir(ws: Workspace, subject: str, rank: int, world: int) -> Path:
    """Rank 0 creates the run folder; every rank gets its path."""
    path = [str(new_run_dir(ws, subject)) if rank == 0 else ""]
    if world > 1:
        import torch.distributed as dist

        dist.broadcast_object_list(path, src=0)
    return Path(path[0])
