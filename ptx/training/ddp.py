"""Training across processes under ``torchrun`` (PyTorch DDP): ranks, devices, the shared
run folder and every rank's sampler state."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch


def launched() -> bool:
    """Whether a launcher (torchrun) started this process as one of a process group: it
    sets WORLD_SIZE and the rendezvous address, also for a single process."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return True
    return "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ


def distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun (NCCL with CUDA,
    else gloo), also for one process (``--nproc_per_node 1`` trains through DDP too)."""
    if not launched():
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        kind = "nccl" if torch.cuda.is_available() else "gloo"
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(kind)
    return dist.get_rank(), dist.get_world_size()


def active() -> bool:
    """Whether this process is one of an initialised process group (train through DDP)."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def backend() -> str | None:
    """The process group's backend (nccl, gloo), or None outside one."""
    import torch.distributed as dist

    return str(dist.get_backend()) if active() else None


def notes(world: int) -> list[str]:
    """What to tell the user about the process group (nothing outside one)."""
    if not active():
        return []
    return [f"Training through DDP: {world} process(es), backend {backend()}."]


def apply_distributed(cfg: Any, world: int) -> None:
    """Each process of a run under torchrun trains on its own GPU."""
    if active() and torch.cuda.is_available():
        cfg.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"


def shared_path(make: Any, rank: int, world: int) -> Path:
    """Rank 0 calls ``make()`` (e.g. creates the run folder); every rank gets its path."""
    path = [str(make()) if rank == 0 else ""]
    if world > 1:
        import torch.distributed as dist

        dist.broadcast_object_list(path, src=0)
    return Path(path[0])


def gather_samplers(sampler: Any, world: int) -> list[dict[str, Any]]:
    """Every rank's sampler state (rank order), so a resumed DDP run continues each one."""
    state = sampler.state_dict()
    if world <= 1:
        return [state]
    import torch.distributed as dist

    out: list[Any] = [None] * world
    dist.all_gather_object(out, state)
    return out


def rank_zero_lock(lock: Any, rank: int) -> contextlib.AbstractContextManager:
    """``lock`` on rank 0, nothing on the others."""
    return lock() if rank == 0 else contextlib.nullcontext()
