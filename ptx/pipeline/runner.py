"""The stage runner: decide for each stage whether to skip, resume or (re)run it.

A stage's fingerprint is its config hash (of the settings that change its outputs, plus
what else its outputs depend on: ``Stage.identity``, e.g. the body model file the fit
really used), its code version (ptx version + stage version) and the tokens of its inputs (the source file's content hash, or the token of the record
of the stage that wrote each input array). A complete record with the same fingerprint is
skipped; a partial one resumes from its first unfinished chunk; anything else starts from
scratch with a new token, which makes every downstream stage stale in turn.

``strict`` turns the problems a stage's quality gates found into an error, also when the
stage itself is cached (its record keeps them): it changes no output, so it re-runs nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptx import __version__
from ptx.cache.records import StageRecord, config_hash
from ptx.cache.store import SCHEMA_VERSION, VideoStore
from ptx.cache.workspace import Workspace, file_content_hash, name_from_path, validate_name
from ptx.config import build_config, fingerprint_values
from ptx.errors import InputError, PtxError, StageError
from ptx.io.video import MIN_FRAMES, probe_video
from ptx.pipeline.registry import STAGES, producers
from ptx.pipeline.sources import label_of, video_source
from ptx.pipeline.stage import (
    SOURCE,
    NullReporter,
    Reporter,
    StageContext,
    StageOutcome,
    gate_error,
)


class Interrupted(PtxError):
    """Ctrl-C during a stage; committed chunks are kept."""

    exit_code = 130


@dataclass
class PrepareResult:
    video_id: str
    subject: str | None
    """The subject the video joined (None when it joined none)."""
    outcomes: list[StageOutcome] = field(default_factory=list)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def code_version(stage: str) -> str:
    return f"{__version__}/{STAGES[stage].version}"


def stage_fingerprint(stage: str, config: Any) -> str:
    """The hash of what ``stage``'s outputs depend on in ``config`` (settings marked
    ``fingerprint=False`` do not count) and of the stage's ``identity``."""
    values = fingerprint_values(config)
    extra = STAGES[stage].identity(config)
    if extra:
        values["_identity"] = extra
    return config_hash(values)


def resolve_configs(overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every registered stage's config with ``overrides`` ({stage: {field: value}}), each
    checked by its stage (so a bad setting fails before any stage runs)."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(STAGES))
    if unknown:
        raise InputError(f"No stage named {unknown[0]!r}.", f"Stages: {', '.join(STAGES)}.")
    configs = {
        name: build_config(cls.Config, overrides.get(name, {}), name)
        for name, cls in STAGES.items()
    }
    for name, cls in STAGES.items():
        cls.check(configs[name])
    return configs


def check_stage_names(names: Iterable[str]) -> None:
    for name in names:
        if name not in STAGES and name != "all":
            raise InputError(f"No stage named {name!r}.", f"Stages: {', '.join(STAGES)}.")


def input_tokens(store: VideoStore, stage: str) -> dict[str, str] | None:
    """The tokens of ``stage``'s inputs, or None when an input is not complete yet."""
    prod = producers()
    tokens: dict[str, str] = {}
    for name in STAGES[stage].inputs:
        if name == SOURCE:
            tokens[name] = store.workspace.source_info(store.video_id).get("content_hash", "")
            continue
        producer = prod.get(name)
        if producer is None:
            raise StageError(f"Stage '{stage}' reads '{name}', which no stage writes.")
        rec = store.record(producer)
        if rec is None or rec.status != "complete":
            return None
        tokens[name] = rec.token
    return tokens


def prepare_video(
    video: Path | str,
    workspace: Workspace,
    subject: str | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    force: Iterable[str] = (),
    until: str | None = None,
    reporter: Reporter | None = None,
    join_subject: bool = True,
    strict: bool = False,
) -> PrepareResult:
    """Run every registered stage on ``video`` in order (see the module docstring).

    The video joins subject ``subject`` (default: a name from its file name) unless
    ``join_subject`` is False (a transfer's motion source is no person to train). With
    ``strict`` a quality gate's warning is an error (so is ``keypoints.strict``)."""
    reporter = reporter or NullReporter()
    given = Path(video)
    force = set(force)
    check_stage_names([*force, *([until] if until else [])])
    configs = resolve_configs(overrides)
    # a frame sequence becomes a (cached, lossless) video file in the workspace
    video, digest = video_source(given, workspace, getattr(configs.get("extract"), "fps", None))
    info = probe_video(video)  # a bad file fails here, before anything is written
    if info.frame_count < MIN_FRAMES:
        raise InputError(
            f"{video.name} has only {info.frame_count} frame(s); ptx needs a video of at least "
            f"{MIN_FRAMES} frames.",
            "Give it a clip of the person moving, not a still image.",
        )
    name = validate_name(subject) if subject is not None else name_from_path(label_of(given))
    workspace.ensure()
    video_id = workspace.register_video(video, digest or file_content_hash(video))
    if join_subject:
        workspace.add_video_to_subject(name, video_id)
    store = VideoStore(workspace, video_id)
    result = PrepareResult(video_id=video_id, subject=name if join_subject else None)
    order = list(STAGES)
    if until:
        order = order[: order.index(until) + 1]
    with store.lock():
        settings = store.settings()
        for stage in order:
            settings[stage] = {"config_hash": stage_fingerprint(stage, configs[stage])}
        store.save_settings(settings)
        for stage in order:
            forced = "all" in force or stage in force
            config = configs[stage]
            stop = strict or bool(getattr(config, "strict", False))
            outcome = _run_stage(store, stage, config, video, forced, reporter, stop)
            result.outcomes.append(outcome)
    return result


def _run_stage(
    store: VideoStore,
    stage: str,
    config: Any,
    source: Path,
    forced: bool,
    reporter: Reporter,
    strict: bool = False,
) -> StageOutcome:
    cls = STAGES[stage]
    code, cfg_hash = code_version(stage), stage_fingerprint(stage, config)
    inputs = input_tokens(store, stage)
    if inputs is None:
        raise StageError(f"Stage '{stage}' cannot run: an upstream stage is not complete.")
    rec = store.record(stage)
    current = rec is not None and rec.matches(code, cfg_hash, inputs) and not forced
    if current and rec.status == "complete" and all(store.has(o) for o in cls.outputs):
        outcome = StageOutcome(stage, "cached", rec.frames, 0.0, list(rec.warnings))
        reporter.stage_end(outcome)
        _strict_gates(rec, strict)
        return outcome
    if not current or rec is None or rec.status == "complete":
        rec = StageRecord(
            stage=stage,
            schema=SCHEMA_VERSION,
            code=code,
            config=dataclasses.asdict(config),
            config_hash=cfg_hash,
            inputs=inputs,
            token=uuid.uuid4().hex,
            started=_now(),
        )
        store.write_record(rec)
    rec.resumed_chunks = len(rec.chunks_done)
    rec.warnings = []
    rec.meta.pop("gates", None)
    ctx = StageContext(cls(), config, store, rec, source, reporter, strict)
    reporter.stage_start(stage, None, rec.frames)
    t0 = time.perf_counter()
    try:
        cls().run(ctx)
    except KeyboardInterrupt:
        store.write_record(rec)
        reporter.stage_end(StageOutcome(stage, "failed", rec.frames, time.perf_counter() - t0))
        raise Interrupted(
            f"Interrupted during stage '{stage}' ({len(rec.chunks_done)} of "
            f"{rec.n_chunks or '?'} chunks kept).",
            "Run the same command again to resume.",
        ) from None
    except BaseException as exc:
        reporter.stage_end(
            StageOutcome(stage, "failed", rec.frames, time.perf_counter() - t0, error=str(exc))
        )
        raise
    missing = sorted(set(range(rec.n_chunks)) - set(rec.chunks_done))
    if missing:
        raise StageError(f"Stage '{stage}' finished with chunks {missing[:5]} not written.")
    rec.status = "complete"
    rec.finished = _now()
    rec.wall_time = ctx.record.wall_time or (time.perf_counter() - t0)
    store.write_record(rec)
    status = "resumed" if rec.resumed_chunks else "ran"
    outcome = StageOutcome(stage, status, rec.frames, time.perf_counter() - t0, list(rec.warnings))
    reporter.stage_end(outcome)
    return outcome


def _strict_gates(rec: StageRecord, strict: bool) -> None:
    """Under ``strict``, the gate warnings a cached stage recorded are an error, as they
    would have been had it run now."""
    gates = rec.meta.get("gates") or []
    if strict and gates:
        kind = gates[0][0]
        raise gate_error(kind, [m for k, m in gates if k == kind])


@dataclass
class StageState:
    stage: str
    state: str
    """``complete``, ``stale``, ``partial`` or ``missing``."""
    detail: str = ""
    frames: int = 0


def stage_states(store: VideoStore) -> list[StageState]:
    """The state of every registered stage of one video, for `ptx status`."""
    settings = store.settings()
    states: list[StageState] = []
    for stage, cls in STAGES.items():
        rec = store.record(stage)
        if rec is None:
            states.append(StageState(stage, "missing"))
            continue
        wanted = settings.get(stage, {}).get("config_hash", rec.config_hash)
        inputs = input_tokens(store, stage) or {}
        reasons = rec.stale_reasons(code_version(stage), wanted, inputs)
        if SOURCE in cls.inputs and store.workspace.source_path(store.video_id) is None:
            reasons.append("source file moved or deleted")
        if rec.status != "complete":
            detail = f"{len(rec.chunks_done)} of {rec.n_chunks or '?'} chunks"
            if reasons:
                detail += f"; {', '.join(reasons)}"
            states.append(StageState(stage, "partial", detail, rec.frames))
        elif not all(store.has(o) for o in cls.outputs):
            states.append(StageState(stage, "missing", "outputs deleted", rec.frames))
        elif reasons:
            states.append(StageState(stage, "stale", ", ".join(reasons), rec.frames))
        else:
            states.append(StageState(stage, "complete", f"{rec.wall_time:.1f} s", rec.frames))
    return states
