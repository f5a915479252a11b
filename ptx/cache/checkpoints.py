"""Checkpoints: ``step-000001000.pt`` files plus a ``last`` pointer, written atomically.

A checkpoint is data, never code: it holds only tensors, numbers, strings, lists and dicts,
and is read with ``torch.load(weights_only=True)``, which refuses any pickle that would
build other Python objects (and so run code) instead of running it.

Format ``ptx-checkpoint`` version 2 (any method)::

    {format, format_version, step, method, trainer: <the method's trainer state>,
     sampler: [one per process], rng, config, meta}

Files of older formats are migrated when read (:data:`MIGRATIONS`), so old runs keep
loading: version 1 was D2G-Net's own (``ptx-d2g-checkpoint``), with the trainer's
entries at the top level.

A checkpoint is a zip archive whose members carry CRC-32s, so a file that was truncated or
altered is told apart (:func:`checkpoint_problem`: "damaged", DamagedError) from one that is
intact but not ptx's or would run code ("refused", InputError). Readers that want the
newest usable checkpoint (:func:`resolve_checkpoint`) skip damaged ones with a note; a
refused one stops them.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

from ptx.cache.atomic import atomic_write, atomic_write_bytes
from ptx.errors import DamagedError, InputError

FORMAT = "ptx-checkpoint"
FORMAT_VERSION = 2
_NAME = re.compile(r"^step-(\d{9})\.pt$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:09d}.pt"


def save_checkpoint(folder: Path, step: int, payload: dict[str, Any], keep: int = 3) -> Path:
    """Write ``payload`` as ``folder/step-<step>.pt`` (temp file, fsync, rename), point
    ``folder/last`` at it, and delete all but the newest ``keep`` step files."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / checkpoint_name(step)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "step": step, **payload}
    write_atomic(path, data)
    atomic_write_bytes(folder / "last", (path.name + "\n").encode())
    for old in step_checkpoints(folder)[:-keep] if keep > 0 else []:
        if old != path:
            old.unlink(missing_ok=True)
    return path


def write_atomic(path: Path, data: dict[str, Any]) -> None:
    """``torch.save`` to a temp file in the same folder, fsync, rename over ``path``. A
    write the disk refuses raises DiskFullError (torch itself reports it only as an
    'unexpected pos'); the temp file is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)

    import torch  # here, so `ptx status` (which lists checkpoints) starts without it

    def write(f: Any) -> None:
        sink = _Sink(f)
        try:
            torch.save(data, sink)
        except RuntimeError:
            if sink.error is not None:
                raise sink.error from None
            raise

    atomic_write(path, write, "writing a checkpoint")


class _Sink:
    """A file wrapper that keeps the OSError of a failed write (torch.save replaces it
    with its own RuntimeError)."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.f.flush()


def step_checkpoints(folder: Path) -> list[Path]:
    """The folder's step checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _NAME.match(p.name))


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint ``last`` names, else the newest step file, else None (no file is
    read but the pointer: see :func:`resolve_checkpoint` for the newest intact one)."""
    target = _pointed(folder)
    if target is not None:
        return target
    found = step_checkpoints(folder)
    return found[-1] if found else None


def _pointed(folder: Path) -> Path | None:
    """The existing step file ``folder/last`` names, or None (no pointer, or garbage)."""
    try:
        raw = (folder / "last").read_bytes()[:64]
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    target = folder / raw.decode("utf-8", "replace").strip()
    return target if _NAME.match(target.name) and target.is_file() else None


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint file is damaged (truncated, a member whose CRC fails, gone), or
    None when it is an intact archive. Files that are no zip archive at all are not
    damaged ptx checkpoints but something else: :func:`load_checkpoint` refuses them."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        return "missing"
    except IsADirectoryError:
        return "a folder"
    if not zipfile.is_zipfile(path):
        return "truncated" if head == b"PK\x03\x04" else None
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        return f"unreadable: {str(exc)[:60]}"
    return f"its part {bad} does not match its checksum" if bad else None


def resolve_checkpoint(folder: Path) -> tuple[Path | None, list[str]]:
    """The newest intact checkpoint of ``folder`` (the one ``last`` names first, then the
    step files newest first) and notes on what was skipped; (None, []) when there is none.
    Raises DamagedError when every checkpoint is damaged."""
    notes: list[str] = []
    pointer = folder / "last"
    named = _pointed(folder)
    if pointer.exists() and named is None:
        notes.append(f"{pointer} names no checkpoint; using the newest step file instead.")
    candidates = ([named] if named else []) + [
        p for p in reversed(step_checkpoints(folder)) if p != named
    ]
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path, notes
        notes.append(f"Checkpoint {path.name} is damaged ({problem}); skipped it.")
    if candidates:
        raise DamagedError(
            f"Every checkpoint in {folder} is damaged ({len(candidates)} checked).",
            "Nothing can be loaded from this run; start a new one with `ptx train`.",
        )
    return None, notes


_D2G_V1_TRAINER = (
    "generator", "discriminator", "opt_g", "opt_d", "sched_g", "sched_d", "scaler", "uv_warmup",
)  # fmt: skip


def _from_d2g_v1(data: dict[str, Any]) -> dict[str, Any]:
    """``ptx-d2g-checkpoint`` v1 -> v2: the trainer's entries move under ``trainer``."""
    out = {k: v for k, v in data.items() if k not in _D2G_V1_TRAINER}
    out["trainer"] = {k: data[k] for k in _D2G_V1_TRAINER if k in data}
    out.update(format=FORMAT, format_version=FORMAT_VERSION, method="d2g")
    return out


MIGRATIONS = {("ptx-d2g-checkpoint", 1): _from_d2g_v1}
"""(old format, version) -> a function returning the same checkpoint in today's format."""


def load_checkpoint(
    path: Path, expected_format: str = FORMAT, version: int = FORMAT_VERSION
) -> dict[str, Any]:
    """Read a checkpoint as data only (older formats migrated). A file that would run code
    when unpickled is refused (InputError) without running anything."""
    problem = checkpoint_problem(path)
    if problem == "missing":
        raise InputError(f"Checkpoint {path} does not exist.")
    if problem is not None:
        raise DamagedError(
            f"Checkpoint {path} is damaged ({problem}).",
            "It cannot be loaded; older checkpoints of the run, if any, are used instead.",
        )
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError(f"Checkpoint {path} does not exist.") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        unsafe = isinstance(exc, pickle.UnpicklingError) and "Weights only" in str(exc)
        what = (
            "it would build Python objects other than plain tensors and numbers (running code)"
            if unsafe
            else "it is not a ptx checkpoint"
        )
        raise InputError(
            f"Refused to load {path}: {what} ({why}); nothing in it was run.",
            "Load only checkpoints written by `ptx train`; delete this file if you do not "
            "know where it came from.",
        ) from None
    if isinstance(data, dict):
        migrate = MIGRATIONS.get((data.get("format"), int(data.get("format_version", 0))))
        if migrate is not None and expected_format == FORMAT:
            data = migrate(data)
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise InputError(
            f"{path} is not a {expected_format} file.",
            "Point --run at a run folder written by `ptx train`.",
        )
    if int(data.get("format_version", 0)) > version:
        raise InputError(
            f"{path} was written by a newer ptx (format {data['format_version']}).",
            "Upgrade ptx to read it.",
        )
    return data


def rng_state() -> dict[str, Any]:
    """Global RNG states (torch CPU and every CUDA device)."""
    import torch

    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
