"""`ptx verify`: read every file of a workspace (or of one subject or video) that ptx wrote
and report what is damaged: chunks whose bytes no longer match the checksum their stage
recorded, missing chunks, unreadable records, settings, source and subject files, run
settings and checkpoints. With ``repair``, each damaged video is prepared again with the
settings its records hold, which recomputes exactly the damaged chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptx.cache import integrity
from ptx.cache.atomic import read_json
from ptx.cache.checkpoints import checkpoint_problem, step_checkpoints
from ptx.cache.runs import list_runs, read_run_config
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, file_content_hash
from ptx.errors import DamagedError, InputError, PtxError
from ptx.pipeline.registry import STAGES
from ptx.pipeline.runner import PrepareResult, prepare_video


@dataclass
class VideoCheck:
    video_id: str
    subjects: list[str]
    file: str
    chunks: int = 0
    """Chunk files read and checked."""
    problems: list[str] = field(default_factory=list)


@dataclass
class RunCheck:
    subject: str
    method: str
    run: str
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    videos: list[VideoCheck]
    runs: list[RunCheck]
    workspace: list[str] = field(default_factory=list)
    """Problems with files that belong to no video or run (workspace.json, subjects)."""

    @property
    def problems(self) -> int:
        return (
            len(self.workspace)
            + sum(len(v.problems) for v in self.videos)
            + sum(len(r.problems) for r in self.runs)
        )


def verify(ws: Workspace, target: str | None = None) -> VerifyReport:
    """Check the workspace, or only ``target``: a subject name, a video id, or a prepared
    video's file."""
    subjects, damaged_subjects = _subjects(ws)
    videos, names = _scope(ws, target, subjects)
    report = VerifyReport([], [])
    if target is None:
        report.workspace += damaged_subjects
        try:
            read_json(ws.root / "workspace.json", fix="Delete it; ptx writes a new one.")
        except DamagedError as exc:
            report.workspace.append(str(exc))
    for vid in videos:
        report.videos.append(check_video(ws, vid, [s for s in subjects if vid in subjects[s]]))
    for name in names:
        for ref in list_runs(ws, name, finished=False):
            report.runs.append(check_run(ref.path, name, ref.method))
    return report


def check_video(ws: Workspace, video_id: str, subjects: list[str]) -> VideoCheck:
    """Every small file and every committed chunk of one prepared video."""
    store = VideoStore(ws, video_id)
    check = VideoCheck(video_id, subjects, "?")
    try:
        paths = ws.source_info(video_id).get("paths") or []
        check.file = Path(paths[-1]).name if paths else "?"
    except DamagedError as exc:
        check.problems.append(exc.message)
    for read in (store.settings, lambda: store.group):
        try:
            read()
        except DamagedError as exc:
            check.problems.append(exc.message)
    for stage, cls in STAGES.items():
        try:
            rec = store.record(stage)
        except DamagedError as exc:
            check.problems.append(exc.message)
            continue
        if rec is None:
            continue
        outputs = cls.outputs
        if rec.status != "complete":  # only the chunks committed so far
            outputs = tuple(o for o in outputs if rec.checksums.get(o))
        damages = integrity.check_outputs(store, rec.checksums, outputs)
        check.problems += [f"{stage}: {d.describe()}" for d in damages]
        check.chunks += sum(1 for o in outputs for s in rec.checksums.get(o) or [] if s is not None)
    return check


def check_run(run_dir: Path, subject: str, method: str) -> RunCheck:
    """A run's settings file and every checkpoint it keeps."""
    check = RunCheck(subject, method, run_dir.name)
    try:
        read_run_config(run_dir)
    except DamagedError as exc:
        check.problems.append(exc.message)
    except InputError:
        check.problems.append(f"{run_dir} has no config.yaml")
    for path in step_checkpoints(run_dir / "checkpoints"):
        check.checkpoints += 1
        problem = checkpoint_problem(path)
        if problem:
            check.problems.append(f"checkpoint {path.name} is damaged ({problem})")
    return check


def repair(ws: Workspace, report: VerifyReport, reporter: Any = None) -> list[PrepareResult]:
    """Prepare every damaged video again with the settings its records hold (which redoes
    exactly the damaged chunks and what must follow them). Runs and checkpoints are not
    repaired: they are reported."""
    done = []
    for v in report.videos:
        if not v.problems:
            continue
        store = VideoStore(ws, v.video_id)
        source = ws.source_path(v.video_id)
        if source is None:
            raise InputError(
                f"Video {v.video_id} cannot be repaired: its source file is at no known path.",
                "Put the file back (or run `ptx prepare FILE` on it wherever it is now).",
            )
        overrides, last = _recorded_settings(store)
        done.append(
            prepare_video(
                source,
                ws,
                None,
                overrides,
                until=last,
                reporter=reporter,
                join_subject=bool(v.subjects),
            )
        )
    return done


def _recorded_settings(store: VideoStore) -> tuple[dict[str, dict], str | None]:
    """Each stage's settings as its record holds them, and the last stage with a record."""
    overrides: dict[str, dict] = {}
    last = None
    for stage in STAGES:
        try:
            rec = store.record(stage)
        except PtxError:
            rec = None  # an unreadable record: the stage runs with its defaults
        if rec is not None:
            fields = {f for f in STAGES[stage].Config.__dataclass_fields__}
            overrides[stage] = {k: v for k, v in rec.config.items() if k in fields}
            last = stage
    return overrides, last


def _subjects(ws: Workspace) -> tuple[dict[str, list[str]], list[str]]:
    found, damaged = {}, []
    for name in ws.subject_names():
        try:
            found[name] = list(ws.subject(name)["videos"])
        except DamagedError as exc:
            damaged.append(str(exc))
    return found, damaged


def _scope(
    ws: Workspace, target: str | None, subjects: dict[str, list[str]]
) -> tuple[list[str], list[str]]:
    """(video ids, subject names whose runs are checked) for ``target``."""
    if target is None:
        return ws.video_ids(), sorted(subjects)
    if target in subjects:
        return subjects[target], [target]
    if target in ws.video_ids():
        return [target], []
    path = Path(target).expanduser()
    if path.is_file():
        vid = file_content_hash(path)[:16]
        if vid in ws.video_ids():
            return [vid], []
    raise InputError(
        f"No subject, video id or prepared video file {target!r} in {ws.root}.",
        "Give a subject name (see `ptx status`), a video id, or leave it out to check all.",
    )
