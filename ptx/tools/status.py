"""The state of a workspace: subjects, their videos, and every stage of each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, validate_name
from ptx.pipeline.runner import StageState, stage_states


@dataclass
class VideoStatus:
    subject: str
    video_id: str
    file: str
    stages: list[StageState]


def workspace_status(ws: Workspace, subject: str | None = None) -> list[VideoStatus]:
    """One entry per (subject, video); videos in no subject are listed under ``-``."""
    if subject is not None:
        validate_name(subject)
        subjects = [ws.subject(subject)]
    else:
        subjects = list(ws.subjects())
    rows: list[VideoStatus] = []
    seen: set[str] = set()
    for subj in subjects:
        for vid in subj["videos"]:
            seen.add(vid)
            rows.append(_video_status(ws, subj["name"], vid))
    if subject is None:
        rows.extend(_video_status(ws, "-", v) for v in ws.video_ids() if v not in seen)
    return rows


def _video_status(ws: Workspace, subject: str, video_id: str) -> VideoStatus:
    paths = ws.source_info(video_id).get("paths", [])
    name = Path(paths[-1]).name if paths else "?"
    return VideoStatus(subject, video_id, name, stage_states(VideoStore(ws, video_id)))
