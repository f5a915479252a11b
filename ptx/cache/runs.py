"""Training run folders: where they live, which is newest, what they trained on.

``<workspace>/runs/<subject>/<method>/<timestamp>/`` holds one person-specific run::

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ptx.cache.atomic import atomic_write_bytes
from ptx.cache.checkpoints import latest_checkpoint
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, validate_name
from ptx.errors import InputError, StageError

CONFIG = "config.yaml"


def subject_runs(ws: Workspace, subject: str) -> Path:
    """``runs/<subject>``: one folder per method below it."""
    return ws.root / "runs" / validate_name(subject)


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
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise InputError(f"{run_dir} has no {CONFIG}; it is not a ptx training run.")
    return yaml.safe_load(path.read_text()) or {}


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
