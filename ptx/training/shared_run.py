"""`ptx train --subjects a,b,c`: train a one-shot method once on many subjects.

Runs live in ``<workspace>/runs/_shared/<method>/<timestamp>/``. Their ``config.yaml``
records the subjects trained on, the held-out subjects (``--holdout-subjects N``: the last
N subjects as given, whole people never trained on, on which the run evaluates the
one-shot protocol), every video with its record tokens, and the frame cache's memory
budget (``ptx.training.shared_data``). ``--run RUN`` continues such a run from its last
checkpoint with its saved subjects and settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ptx.cache.checkpoints import load_checkpoint, resolve_checkpoint
from ptx.cache.runs import (
    SHARED,
    changed_inputs,
    claim_run_dir,
    read_run_config,
    write_run_config,
)
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, validate_name
from ptx.errors import InputError, StageError
from ptx.methods.base import ONE_SHOT, Method, TrainSetup
from ptx.methods.registry import get_method
from ptx.training.load import check_video_arrays, needs
from ptx.training.log import TrainReporter
from ptx.training.loop import TrainResult, run_training
from ptx.training.run import _lock, _prepare_device, _resumed_config, perceptual_loss, run_info
from ptx.training.shared_data import DEFAULT_BUDGET_MB, SharedData, SharedVideo, split_counts


def read_subject_list(path: Path) -> list[str]:
    """Subjects named in a text file, one a line (blank lines and ``#`` comments skipped)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such file: {path}.", "Give a text file with one subject a line.")
    names = []
    for line in path.read_text(errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def split_subjects(subjects: list[str], holdout: int) -> tuple[list[str], list[str]]:
    """(trained, held out): the last ``holdout`` subjects are held out."""
    names = list(dict.fromkeys(s.strip() for s in subjects if s.strip()))
    for s in names:
        validate_name(s)
    if holdout < 0:
        raise InputError("--holdout-subjects must be 0 or more.")
    if len(names) - holdout < 1:
        raise InputError(
            f"{len(names)} subject(s) given and {holdout} held out leaves none to train on.",
            "Give more subjects (--subjects a,b,c or --subjects-from FILE) or hold out fewer.",
        )
    cut = len(names) - holdout
    return names[:cut], names[cut:]


def load_shared_data(
    ws: Workspace,
    trained: list[str],
    heldout: list[str],
    method: Method,
    cfg: Any,
    budget_mb: float | None = None,
) -> SharedData:
    """The subjects' videos as a lazily read :class:`SharedData` (nothing is read but the
    arrays' shapes and records)."""
    from ptx.pipeline.registry import producers

    need = needs(method, cfg)
    made_by = producers()
    videos: list[SharedVideo] = []
    canonical = None
    start = 0
    for subject in [*trained, *heldout]:
        vids = ws.subject(subject)["videos"]
        if not vids:
            raise InputError(f"Subject '{subject}' has no prepared video.")
        for vid in vids:
            store = VideoStore(ws, vid)
            present = set(store.arrays())
            shapes = {a: tuple(store.open_array(a).shape) for a in present}
            check_video_arrays(vid, present, shapes, need)
            for array in present & {*made_by} & {*need.images}:
                rec = store.record(made_by[array])
                if rec is not None and rec.status != "complete":
                    raise StageError(
                        f"Stage '{made_by[array]}' of video {vid} is not complete.",
                        "Run `ptx prepare` on the video again to finish it.",
                    )
            canonical = canonical or (int(shapes["frames"][1]), int(shapes["frames"][2]))
            count = int(shapes["frames"][0])
            n_train = split_counts(count, cfg.holdout, subject in heldout)

            def read(name: str, a: int, b: int, store: VideoStore = store) -> Any:
                return store.read(name, a, b)

            videos.append(SharedVideo(vid, subject, start, count, n_train, read))
            start += count
    assert canonical is not None
    frame = method.frame(cfg, canonical)
    budget = budget_mb if budget_mb is not None else getattr(cfg, "data_budget_mb", None)
    return SharedData(
        videos,
        tuple(need.images),
        method.encoding(cfg, frame),
        method.clip,
        need.extra,
        frame,
        float(budget or DEFAULT_BUDGET_MB),
        canonical,
    )


def _video_info(data: SharedData) -> list[dict[str, Any]]:
    return [
        {"video": v.name, "subject": v.subject, "frames": v.count, "train_frames": [0, v.n_train]}
        for v in data.videos
    ]


def train_shared(
    workspace: Workspace,
    subjects: list[str],
    holdout_subjects: int = 0,
    preset: str = "tiny",
    overrides: dict[str, Any] | None = None,
    *,
    method: str | None = None,
    run: Path | None = None,
    reporter: TrainReporter | None = None,
    stop_at: int | None = None,
) -> TrainResult:
    """Train the one-shot ``method`` on ``subjects`` (the last ``holdout_subjects`` held
    out), or continue the run folder ``run``."""
    ws = workspace
    overrides = dict(overrides or {})
    if run is not None:
        return _resume_shared(ws, Path(run), method, overrides, reporter, stop_at)
    m = get_method(method)
    if m.kind != ONE_SHOT:
        raise InputError(
            f"{m.name} is a person-specific method: it trains on one subject.",
            f"Use `ptx train --method {m.name} --subject NAME`, or a one-shot method "
            "(see `ptx methods`) with --subjects.",
        )
    trained, heldout = split_subjects(subjects, holdout_subjects)
    for s in [*trained, *heldout]:
        ws.subject(s)  # a clear error for an unknown subject
    cfg = m.resolve_config(preset, overrides)
    device = _prepare_device(cfg)
    data = load_shared_data(ws, trained, heldout, m, cfg)
    vgg, vgg_note = perceptual_loss(m)
    setup = TrainSetup(cfg, device, len(data.videos), vgg, False, ws, frame=data.frame)
    trainer = m.build_trainer(setup)
    budget = float(getattr(cfg, "data_budget_mb", DEFAULT_BUDGET_MB))
    notes = [
        *trainer.notes,
        *([vgg_note] if vgg_note else []),
        f"{len(trained)} subject(s) ({len(data.train_ids)} training items) trained, "
        f"{len(heldout)} held out; frames read lazily, cache budget {budget:g} MiB.",
    ]
    run_dir = claim_run_dir(ws, SHARED, m.name)
    videos = _video_info(data)
    people = {"kind": m.kind, "subjects": trained, "holdout_subjects": heldout}
    info = run_info(
        ws, m, cfg, data, videos, preset, overrides, notes, people, data_budget_mb=budget
    )
    write_run_config(run_dir, info)
    meta = {"subjects": trained, "holdout_subjects": heldout, "videos": videos, "notes": notes}
    with _lock(run_dir):
        return run_training(
            data, m, cfg, trainer, run_dir, device, reporter, meta=meta, stop_at=stop_at
        )


def _resume_shared(
    ws: Workspace,
    run_dir: Path,
    method: str | None,
    overrides: dict[str, Any],
    reporter: TrainReporter | None,
    stop_at: int | None,
) -> TrainResult:
    info = read_run_config(run_dir)
    m = get_method(info.get("method"))
    if method is not None and get_method(method).name != m.name:
        raise InputError(f"Run {run_dir} is a {m.name} run, not {method}.")
    cfg = _resumed_config(m, info, overrides)
    ckpt_path, skipped = resolve_checkpoint(run_dir / "checkpoints")
    if ckpt_path is None:
        raise InputError(
            f"Run {run_dir} has no checkpoint to resume from.", "Start a new run instead."
        )
    state = load_checkpoint(ckpt_path)
    device = _prepare_device(cfg)
    data = load_shared_data(ws, info["subjects"], info.get("holdout_subjects", []), m, cfg)
    vgg, vgg_note = perceptual_loss(m)
    setup = TrainSetup(cfg, device, len(data.videos), vgg, False, ws, resume=True, frame=data.frame)
    trainer = m.build_trainer(setup)
    notes = [*skipped, f"Resumed from {ckpt_path.name} of run {run_dir} ({m.name})."]
    notes += [f"Its inputs changed since it started: {c}." for c in changed_inputs(ws, info)]
    notes += [vgg_note] if vgg_note else []
    meta = {**state.get("meta", {}), "notes": notes}
    with _lock(run_dir):
        return run_training(
            data, m, cfg, trainer, run_dir, device, reporter, resume=state, meta=meta,
            stop_at=stop_at,
        )  # fmt: skip
