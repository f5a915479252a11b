"""Training run folders: where they live, which is newest, what they trained on.

``<workspace>/runs/<subject>/<method>/<timestamp>/`` holds one person-specific run
(``runs/_shared/<method>/<timestamp>/`` one trained on many subjects)::

    config.yaml              method, resolved settings, the videos and held-out ranges,
                             and the record tokens of the prepared arrays it read
    checkpoints/step-000001000.pt, checkpoints/last
    log.csv  train.log  samples/step-*.png  tb/ (TensorBoard)

A run "knows its inputs": :func:`changed_inputs` compares the record tokens saved in its
config with the stores' records now, so status, score and resume can say when a video was
prepared again since the run trained on it.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ptx.cache.atomic import atomic_write_bytes, damaged_file, remove_stale_temp_files
from ptx.cache.checkpoints import latest_checkpoint
from ptx.cache.locks import exclusive_lock
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, validate_name
from ptx.errors import InputError, LockedError, StageError

CONFIG = "config.yaml"


SHARED = "_shared"
"""The "subject" of one-shot runs, trained on many subjects: ``runs/_shared/<method>/``
(no subject can have this name: names start with a letter or digit)."""


def subject_runs(ws: Workspace, subject: str) -> Path:
    """``runs/<subject>``: one folder per method below it (``runs/_shared`` for one-shot
    runs)."""
    return ws.root / "runs" / (SHARED if subject == SHARED else validate_name(subject))


def runs_dir(ws: Workspace, subject: str, method: str) -> Path:
    """``runs/<subject>/<method>``."""
    return subject_runs(ws, subject) / validate_name(method, "method")


def new_run_dir(ws: Workspace, subject: str, method: str) -> Path:
    """A fresh ``runs/<subject>/<method>/<timestamp>`` folder (suffixed when the second is
    taken)."""
    base = runs_dir(ws, subject, method)
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


@dataclass(frozen=True)
class RunRef:
    """A run folder and what its place says about it."""

    path: Path
    subject: str
    method: str

    @property
    def name(self) -> str:
        return self.path.name


def list_runs(
    ws: Workspace, subject: str, method: str | None = None, finished: bool = True
) -> list[RunRef]:
    """The subject's runs (of ``method``, or of every method), oldest first by their
    timestamp names; ``finished``: only those with a checkpoint."""
    base = subject_runs(ws, subject)
    if method:
        methods = [method]
    else:
        methods = sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    refs = []
    for m in methods:
        folder = base / m
        if not folder.is_dir():
            continue
        for run in folder.iterdir():
            if run.is_dir() and (not finished or latest_checkpoint(run / "checkpoints")):
                refs.append(RunRef(run, subject, m))
    return sorted(refs, key=lambda r: (r.name, r.method))


def latest_run(ws: Workspace, subject: str, method: str | None = None) -> Path | None:
    """The newest run of ``subject`` (of ``method``, or of any method) with a checkpoint."""
    runs = list_runs(ws, subject, method)
    return runs[-1].path if runs else None


def write_run_config(run_dir: Path, info: dict[str, Any]) -> None:
    text = yaml.safe_dump(info, sort_keys=False, default_flow_style=None)
    atomic_write_bytes(run_dir / CONFIG, text.encode())


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """The run's ``config.yaml`` (InputError when absent, DamagedError when unreadable)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise InputError(f"{run_dir} has no {CONFIG}; it is not a ptx training run.")
    fix = (
        "Restore it from a backup; its checkpoints still render and score (they hold the "
        "settings), but the run cannot be resumed without it."
    )
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise damaged_file(path, f"not valid YAML: {str(exc).splitlines()[0][:60]}", fix) from None
    if data is None:
        raise damaged_file(path, "it is empty", fix)
    if not isinstance(data, dict) or not isinstance(data.get("config", {}), dict):
        raise damaged_file(path, "it is not a run's settings", fix)
    return data


def has_checkpoint(run_dir: Path) -> bool:
    """Whether the run has written a checkpoint (intact or not)."""
    return latest_checkpoint(Path(run_dir) / "checkpoints") is not None


def claim_run_dir(ws: Workspace, subject: str, method: str) -> Path:
    """The folder for a new run: the newest run folder of ``subject`` and ``method`` that
    never wrote a checkpoint, is newer than every run that did, and that no process holds
    (a run stopped before its first checkpoint: emptied and used again), else a fresh one
    (:func:`new_run_dir`). On the way, temp files that killed saves left in the other idle
    runs are removed."""
    base = runs_dir(ws, subject, method)
    idle = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    reuse, newer_checkpoint = None, False
    for run in reversed(idle):  # newest first
        done = has_checkpoint(run)
        try:
            with exclusive_lock(run / "lock", f"Run {run}"):
                if done:  # kept; only what killed saves left behind is removed
                    remove_stale_temp_files(run / "checkpoints")
                    remove_stale_temp_files(run)
                elif reuse is None and not newer_checkpoint:
                    for item in run.iterdir():
                        if item.name != "lock":
                            shutil.rmtree(item) if item.is_dir() else item.unlink()
                    reuse = run
        except LockedError:
            pass
        newer_checkpoint = newer_checkpoint or done
    return reuse or new_run_dir(ws, subject, method)


def resume_target(ws: Workspace, subject: str, method: str | None = None) -> Path:
    """The run ``--resume`` continues: the subject's newest run (of ``method``, or of any
    method). InputError when there is none, or when the newest has no checkpoint yet while
    an older one has (which to continue is then the user's choice)."""
    runs = list_runs(ws, subject, method, finished=False)
    done = [r for r in runs if has_checkpoint(r.path)]
    which = f"{method} " if method else ""
    if not done:
        raise InputError(
            f"Subject '{subject}' has no {which}training run to resume (none wrote a "
            "checkpoint).",
            f"Start one with `ptx train --subject {subject}`"
            + (f" (the run {runs[-1].path} stopped before its first checkpoint; a new "
               "run reuses its folder)." if runs else "."),
        )  # fmt: skip
    if runs[-1].path != done[-1].path:
        raise InputError(
            f"The newest run {runs[-1].path} stopped before its first checkpoint, so "
            f"--resume would continue the older run {done[-1].path}.",
            f"Say which: `ptx train --subject {subject} --run {done[-1].path}` continues the "
            f"older one; `ptx train --subject {subject}` starts again in {runs[-1].name}.",
        )
    return done[-1].path


def record_tokens(ws: Workspace, videos: list[str], stages: list[str]) -> dict[str, dict]:
    """{video: {stage: record token}} of the stages that wrote what a run reads."""
    out: dict[str, dict] = {}
    for vid in videos:
        store = VideoStore(ws, vid)
        tokens = {}
        for stage in stages:
            rec = store.record(stage)
            if rec is not None:
                tokens[stage] = rec.token
        out[vid] = tokens
    return out


def changed_inputs(ws: Workspace, info: dict[str, Any]) -> list[str]:
    """What changed since the run read its inputs: one phrase per video and stage whose
    record is no longer the one the run trained on (empty for runs that recorded none)."""
    changes = []
    for vid, tokens in (info.get("inputs") or {}).items():
        if not ws.video_dir(vid).is_dir():
            changes.append(f"video {vid} was deleted")
            continue
        store = VideoStore(ws, vid)
        redone = []
        for stage, token in tokens.items():
            rec = store.record(stage)
            if rec is None or rec.token != token:
                redone.append(stage)
        if redone:
            changes.append(f"video {vid}: {', '.join(redone)} prepared again")
    return changes
