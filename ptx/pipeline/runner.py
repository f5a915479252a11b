"""The stage runner: decide for each stage whether to skip, resume or (re)run it.

A stage's fingerprint is its config hash (of the settings that change its outputs, plus
what else its outputs depend on: ``Stage.identity``, e.g. the body model file the fit
really used), its code version (ptx version + stage version) and the tokens of its inputs (the source file's content hash, or the token of the record
of the stage that wrote each input array). A complete record with the same fingerprint is
skipped; a partial one resumes from its first unfinished chunk; anything else starts from
scratch with a new token, which makes every downstream stage stale in turn.

Before a stage is skipped, its committed chunk files are checked against the checksums in
its record (``ptx.cache.integrity``). Damaged or missing chunks are recomputed, and only
they (with the stage's finishing pass): the stage resumes as if those chunks had never been
committed. A repair that reproduces the original chunks bit for bit (the rule: resuming
equals never stopping) keeps the record's token, so what was computed from them stays
valid; one that does not gets a new token and everything downstream runs again. A resumed
stage checks its committed chunks the same way. A record or settings file that no longer
parses is deleted (the stage runs again), and temp files of killed writes are removed.

``strict`` turns the problems a stage's quality gates found into an error, also when the
stage itself is cached (its record keeps them): it changes no output, so it re-runs nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import importlib
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptx import __version__
from ptx.cache import integrity
from ptx.cache.atomic import remove_stale_temp_files
from ptx.cache.records import StageRecord, config_hash
from ptx.cache.store import SCHEMA_VERSION, VideoStore
from ptx.cache.workspace import Workspace, file_content_hash, name_from_path, validate_name
from ptx.config import build_config, fingerprint_values
from ptx.errors import DamagedError, InputError, PtxError, StageError
from ptx.io.video import MIN_STILL_FRAMES, probe_video
from ptx.pipeline import lanes, states
from ptx.pipeline.registry import STAGES, producers
from ptx.pipeline.sources import label_of, video_source
from ptx.pipeline.stage import (
    SOURCE,
    NullReporter,
    Reporter,
    StageContext,
    StageOutcome,
    aligned,
    gate_error,
)
from ptx.pipeline.states import StageState


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
    """Run every registered stage on ``video`` in order (see the module docstring); stages
    independent of each other run two at a time (``ptx.pipeline.lanes``).

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
    if info.frame_count < MIN_STILL_FRAMES:
        raise InputError(
            f"{video.name} has no frame to prepare.", "Give a video or a photo of a person."
        )
    if subject is not None:
        validate_name(subject)
    workspace.ensure()
    video_id = workspace.register_video(video, digest or file_content_hash(video))
    if subject is not None:
        name = subject
    else:  # a video already in a subject stays there (preparing it again repairs it)
        member = [s for s in workspace.subject_names() if video_id in _videos_of(workspace, s)]
        name = member[0] if member else name_from_path(label_of(given))
    if join_subject:
        workspace.add_video_to_subject(name, video_id)
    store = VideoStore(workspace, video_id)
    result = PrepareResult(video_id=video_id, subject=name if join_subject else None)
    order = list(STAGES)
    if until:
        order = order[: order.index(until) + 1]
    with store.lock():
        _housekeeping(store, reporter)
        try:
            settings = store.settings()
        except DamagedError as exc:
            reporter.warn("prepare", f"{exc.message} It is written anew.")
            settings = {}
        for stage in order:
            settings[stage] = {"config_hash": stage_fingerprint(stage, configs[stage])}
        store.save_settings(settings)
        n_lanes = lanes.stage_lanes()
        shown = lanes.locked(reporter) if n_lanes > 1 else reporter

        def run(stage: str, stop: threading.Event | None, side: bool) -> StageOutcome:
            forced = "all" in force or stage in force
            config = configs[stage]
            gates = strict or bool(getattr(config, "strict", False))
            # the side lane's stage gets a store of its own (its record cache is its own)
            where = VideoStore(workspace, video_id) if side else store
            if not STAGES[stage].runs_during_preload:
                torch_ready.wait()  # a half-imported torch breaks SciPy, among others
            return _run_stage(where, stage, config, video, forced, shown, gates, stop)

        needs = lanes.dependencies(STAGES, order)
        torch_ready = _preload(store, order, configs, force, needs)
        try:
            outcomes = lanes.run_lanes(order, needs, lanes.leaves(STAGES), run, n_lanes)
        except KeyboardInterrupt:  # between two stages
            raise Interrupted(
                "Interrupted between stages.", "Run the same command again to resume."
            ) from None
        result.outcomes = [outcomes[s] for s in order]
    return result


def _preload(
    store: VideoStore,
    order: list[str],
    configs: dict[str, Any],
    force: set[str],
    needs: dict[str, set[str]],
) -> threading.Event:
    """Import the slow modules of the stages that look due to run (``Stage.preload``) on a
    thread of its own, while the first stages run (extract decodes outside the GIL while
    torch, MediaPipe and SciPy load: ~1.2 s off a fresh prepare's wall clock). Torch comes
    first when listed; the returned event is set once it is imported (at once when it is
    not listed), and every stage but those that ``runs_during_preload`` waits for it:
    while torch is half-imported it is already in ``sys.modules``, and libraries that look
    there (SciPy's array-API checks, among others) fail on it.
    Anything that fails to import here is left to the stage, which imports it again and
    says why."""
    ready = threading.Event()
    due: set[str] = set()
    for stage in order:
        rec = store.record(stage)
        if ("all" in force or stage in force or needs[stage] & due or rec is None
                or rec.status != "complete" or rec.code != code_version(stage)
                or rec.config_hash != stage_fingerprint(stage, configs[stage])):  # fmt: skip
            due.add(stage)
    modules = [m for s in order if s in due for m in STAGES[s].preload(configs[s])]
    modules = [m for i, m in enumerate(modules) if m not in modules[:i]]
    if "torch" in modules and "torch" not in sys.modules:
        modules.remove("torch")
        modules.insert(0, "torch")
    else:
        ready.set()
    if not modules:
        return ready

    def load() -> None:
        for name in modules:
            module, _, function = name.partition(":")
            with contextlib.suppress(BaseException):  # the stage imports it again, says why
                loaded = importlib.import_module(module)
                if function:
                    getattr(loaded, function)()
            if name == "torch":
                ready.set()

    threading.Thread(target=load, name="ptx-preload", daemon=True).start()
    return ready


def _videos_of(ws: Workspace, subject: str) -> list[str]:
    try:
        return list(ws.subject(subject).get("videos", []))
    except PtxError:
        return []


def _housekeeping(store: VideoStore, reporter: Reporter) -> None:
    """Under the video's lock, before any stage: remove temp files left by killed writes,
    rewrite an unreadable group metadata file, delete unreadable stage records (their
    stages run again)."""
    remove_stale_temp_files(store.dir, recursive=True)
    try:
        store.group  # noqa: B018 (opening it checks its metadata)
    except DamagedError as exc:
        store.repair_group()
        reporter.warn("prepare", f"{exc.message} It was written anew; the arrays are kept.")
    for stage in STAGES:
        try:
            store.record(stage)
        except DamagedError as exc:
            store.delete_record(stage)
            reporter.warn(stage, f"{exc.message} Deleted: the stage runs again.")


def _run_stage(
    store: VideoStore,
    stage: str,
    config: Any,
    source: Path,
    forced: bool,
    reporter: Reporter,
    strict: bool = False,
    stop: threading.Event | None = None,
) -> StageOutcome:
    cls = STAGES[stage]
    code, cfg_hash = code_version(stage), stage_fingerprint(stage, config)
    inputs = input_tokens(store, stage)
    if inputs is None:
        raise StageError(f"Stage '{stage}' cannot run: an upstream stage is not complete.")
    rec = store.record(stage)
    current = rec is not None and rec.matches(code, cfg_hash, inputs) and not forced
    repair: tuple[dict, int] | None = None
    """(the checksums and frame count before a repair) while repairing a complete stage."""
    if current and rec.status == "complete":
        damages = integrity.check_outputs(store, rec.checksums, cls.outputs)
        if not damages:
            outcome = StageOutcome(stage, "cached", rec.frames, 0.0, list(rec.warnings))
            reporter.stage_end(outcome)
            _strict_gates(rec, strict)
            return outcome
        if rec.checksums:  # (a record of an older ptx has none: its stage starts over)
            repair = ({k: list(v) for k, v in rec.checksums.items()}, rec.frames)
            _plan_repair(store, rec, damages)
            shown = "; ".join(d.describe() for d in damages[:3])
            more = f" and {len(damages) - 3} more" if len(damages) > 3 else ""
            reporter.warn(stage, f"Damaged in {store.label()}: {shown}{more}. Recomputing.")
    elif current and rec.status == "partial":
        _drop_damaged_chunks(store, rec, cls.outputs)
    if not current or rec is None or (rec.status == "complete" and repair is None):
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
    ctx = StageContext(cls(), config, store, rec, source, reporter, strict, stop)
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
    rec.checksums = integrity.output_checksums(store, cls.outputs)
    if ctx.total_frames is not None:  # (chunks redone after a repair were counted twice)
        rec.frames = ctx.total_frames
    if repair is not None:
        before, frames = repair
        rec.frames = ctx.total_frames if ctx.total_frames is not None else frames
        changed = [a for a, sums in rec.checksums.items() if a in before and before[a] != sums]
        if changed:
            rec.token = uuid.uuid4().hex  # what was computed from the old chunks runs again
            ctx.warn(
                f"The repaired {', '.join(changed)} differ from the original; the stages "
                "after this one run again."
            )
    rec.status = "complete"
    rec.finished = _now()
    rec.wall_time = ctx.record.wall_time or (time.perf_counter() - t0)
    store.write_record(rec)
    status = "repaired" if repair else "resumed" if rec.resumed_chunks else "ran"
    outcome = StageOutcome(stage, status, rec.frames, time.perf_counter() - t0, list(rec.warnings))
    reporter.stage_end(outcome)
    return outcome


def _plan_repair(store: VideoStore, rec: StageRecord, damages: list[integrity.Damage]) -> None:
    """Turn a complete record back into a partial one whose missing chunks are exactly the
    stage chunks holding a damaged array chunk (all of them when an array itself is gone
    or unreadable). Outputs not chunked like the stage are rewritten by any run of it."""
    redo: set[int] = set()
    whole = False
    for d in damages:
        arr = store.open_array(d.array) if d.chunk >= 0 else None
        if d.chunk < 0:
            whole = True
        elif arr is not None and aligned(arr, rec.n_chunks):
            redo.add(d.chunk)
    if whole:
        for d in damages:
            if d.chunk < 0:
                store.delete_array(d.array)
    rec.chunks_done = [] if whole else [c for c in rec.chunks_done if c not in redo]
    rec.status = "partial"
    rec.frames = 0


def _drop_damaged_chunks(store: VideoStore, rec: StageRecord, outputs: tuple[str, ...]) -> None:
    """Before resuming: forget committed chunks whose files are missing or altered."""
    for name in outputs:
        sums = rec.checksums.get(name)
        try:
            arr = store.open_array(name)
        except DamagedError:
            store.delete_array(name)
            rec.chunks_done = []
            return
        if arr is None or not sums or not aligned(arr, rec.n_chunks):
            continue
        folder = store.zarr_path / name
        bad = {
            c for c in rec.chunks_done
            if c < len(sums) and integrity.chunk_problem(
                integrity.chunk_file(folder, arr, c), sums[c]
            )
        }  # fmt: skip
        rec.chunks_done = [c for c in rec.chunks_done if c not in bad]


def _strict_gates(rec: StageRecord, strict: bool) -> None:
    """Under ``strict``, the gate warnings a cached stage recorded are an error, as they
    would have been had it run now."""
    gates = rec.meta.get("gates") or []
    if strict and gates:
        kind = gates[0][0]
        raise gate_error(kind, [m for k, m in gates if k == kind])


def stage_states(store: VideoStore) -> list[StageState]:
    """The state of every registered stage of one video (``ptx.pipeline.states``)."""
    return states.stage_states(store, STAGES)
