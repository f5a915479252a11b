"""The state of a workspace: subjects, their videos and every stage of each, and their
training runs (with whether the arrays a run trained on were prepared again since)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ptx.cache.atomic import read_json
from ptx.cache.checkpoints import latest_checkpoint
from ptx.cache.runs import changed_inputs, list_runs, read_run_config
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, validate_name
from ptx.errors import DamagedError, InputError
from ptx.pipeline.states import StageState, stage_states


@dataclass
class VideoStatus:
    subject: str
    video_id: str
    file: str
    stages: list[StageState]


@dataclass
class RunStatus:
    subject: str
    method: str
    run: str
    checkpoint: str
    """The newest checkpoint's file name ('' when none was written yet)."""
    changes: list[str] = field(default_factory=list)
    """What changed in its inputs since it trained (empty: nothing)."""


def workspace_status(ws: Workspace, subject: str | None = None) -> list[VideoStatus]:
    """One entry per (subject, video); videos in no subject are listed under ``-``. A
    damaged file is reported in its row (state ``damaged``), never raised."""
    if subject is not None:
        validate_name(subject)
        names = [subject]
    else:
        names = ws.subject_names()
    rows: list[VideoStatus] = []
    seen: set[str] = set()
    for name in names:
        try:
            videos = ws.subject(name)["videos"]
        except DamagedError as exc:
            rows.append(
                VideoStatus(name, "-", "?", [StageState("subject", "damaged", exc.message)])
            )
            continue
        for vid in videos:
            seen.add(vid)
            rows.append(_video_status(ws, name, vid))
    if subject is None:
        rows.extend(_video_status(ws, "-", v) for v in ws.video_ids() if v not in seen)
    return rows


def workspace_damage(ws: Workspace) -> list[str]:
    """Problems with the workspace's own files (its layout marker), one line each."""
    try:
        read_json(ws.root / "workspace.json", fix="Delete it; ptx writes a new one.")
    except DamagedError as exc:
        return [str(exc)]
    return []


def run_status(ws: Workspace, subject: str | None = None) -> list[RunStatus]:
    """Every training run of the subjects (or of ``subject``), oldest first."""
    names = [subject] if subject is not None else ws.subject_names()
    out = []
    for name in names:
        for ref in list_runs(ws, name, finished=False):
            ckpt = latest_checkpoint(ref.path / "checkpoints")
            try:
                changes = changed_inputs(ws, read_run_config(ref.path))
            except DamagedError as exc:
                changes = [f"damaged: {exc.message}"]
            except InputError:
                changes = ["no config.yaml"]
            out.append(RunStatus(name, ref.method, ref.name, ckpt.name if ckpt else "", changes))
    return out


def _video_status(ws: Workspace, subject: str, video_id: str) -> VideoStatus:
    store = VideoStore(ws, video_id)
    damaged: list[StageState] = []
    try:
        paths = ws.source_info(video_id).get("paths", [])
        name = Path(paths[-1]).name if paths else "?"
    except DamagedError as exc:
        name = "?"
        damaged.append(StageState("source", "damaged", exc.message))
    try:
        store.settings()
    except DamagedError as exc:
        damaged.append(StageState("settings", "damaged", exc.message))
    return VideoStatus(subject, video_id, name, [*damaged, *stage_states(store)])
