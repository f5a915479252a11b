"""The functions behind every ptx command, for Python callers (``ptx.prepare`` etc.).

Arguments are plain ``str | Path`` values and numbers, with the CLI's defaults; results are
typed (paths, metrics); errors are :class:`ptx.errors.PtxError` subclasses (``InputError``
for bad input, ``QualityError`` for a failed quality gate, ...). Nothing is printed unless
``progress`` asks for it: ``True`` writes plain progress lines to standard error
(:class:`~ptx.api.progress.LineProgress`); an object with the reporter methods receives the
progress itself. Heavy libraries (torch, MediaPipe, numba) load on the first call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ptx.cache.workspace import Workspace, default_workspace
from ptx.errors import InputError

if TYPE_CHECKING:
    from ptx.perform.render import RenderResult
    from ptx.perform.score import ScoreResult
    from ptx.perform.transfer import TransferResult
    from ptx.pipeline.stage import StageOutcome
    from ptx.tools.export import ExportResult
    from ptx.training.loop import TrainResult
    from ptx.training.pretrain import PretrainResult

PathLike = str | Path


def workspace_of(workspace: PathLike | Workspace | None, create: bool = False) -> Workspace:
    """The workspace ``workspace`` names (default: ``$PTX_WORKSPACE`` or ``./ptx-workspace``);
    with ``create`` False it must exist."""
    if isinstance(workspace, Workspace):
        return workspace
    root = Path(workspace).expanduser() if workspace is not None else default_workspace()
    return Workspace(root) if create else Workspace.open(root, create=False)


def reporter_of(progress: Any) -> Any:
    """``progress`` as a reporter: None/False -> None (silent), True -> plain lines on
    standard error, anything else is used as it is."""
    if progress is None or progress is False:
        return None
    if progress is True:
        from ptx.api.progress import LineProgress

        return LineProgress()
    return progress


@dataclass
class Prepared:
    """What :func:`prepare` did."""

    video_id: str
    subject: str | None
    workspace: Path
    outcomes: list[StageOutcome] = field(default_factory=list)
    """One per stage: ran, resumed, cached or failed, frames, seconds, warnings."""

    @property
    def warnings(self) -> list[str]:
        return [w for o in self.outcomes for w in o.warnings]


def prepare(
    video: PathLike,
    subject: str | None = None,
    *,
    workspace: PathLike | Workspace | None = None,
    size: int | None = None,
    aspect: str | None = None,
    analysis_size: int | None = None,
    fps: float | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    keypoints: str | None = None,
    iuv: str | None = None,
    body: str | None = None,
    strict: bool = False,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    config: PathLike | None = None,
    force: Iterable[str] = (),
    until: str | None = None,
    progress: Any = None,
) -> Prepared:
    """Prepare a video file or frame folder: every stage, cached and resumable (`ptx
    prepare`). ``size`` is the canonical frame's long side; ``aspect`` its shape (auto: the
    clip's own, square, or W:H). ``settings`` are ``{stage: {field: value}}``; ``config`` a
    YAML file of them (see :mod:`ptx.api.settings`); explicit arguments win over both."""
    from ptx.api.settings import prepare_settings
    from ptx.pipeline.keypoints import import_overrides
    from ptx.pipeline.runner import prepare_video

    overrides: dict[str, dict[str, Any]] = {}
    for source in (prepare_settings(config) if config is not None else {}, settings or {}):
        for stage, values in source.items():
            overrides.setdefault(stage, {}).update(values)
    ext = {"analysis_size": analysis_size, "fps": fps, "start": start, "end": end,
           "max_frames": max_frames}  # fmt: skip
    overrides.setdefault("extract", {}).update({k: v for k, v in ext.items() if v is not None})
    if iuv is not None:
        if not iuv.startswith("densepose:"):
            raise InputError(f"Cannot read --iuv {iuv!r}.", "Write it as densepose:DIR.")
        overrides.setdefault("iuv", {})["source"] = iuv
    if body is not None:
        overrides.setdefault("fit", {})["body"] = body
    if size is not None:
        overrides.setdefault("crop", {})["size"] = size
    if aspect is not None:
        overrides.setdefault("crop", {})["aspect"] = aspect
    if keypoints is not None:
        overrides.setdefault("keypoints", {}).update(import_overrides(keypoints))
    ws = workspace_of(workspace, create=True)
    res = prepare_video(video, ws, subject, overrides, force=force, until=until,
                        reporter=reporter_of(progress), strict=strict)  # fmt: skip
    return Prepared(res.video_id, res.subject, ws.root, res.outcomes)


def train(
    subject: str | None = None,
    *,
    method: str | None = None,
    preset: str | None = None,
    steps: int | None = None,
    settings: Mapping[str, Any] | None = None,
    config: PathLike | None = None,
    device: str | None = None,
    resume: bool = False,
    run: PathLike | None = None,
    pretrain: bool = False,
    subjects: Iterable[str] | str | None = None,
    workspace: PathLike | Workspace | None = None,
    progress: Any = None,
    subjects_from: PathLike | None = None,
    holdout_subjects: int = 0,
) -> TrainResult | PretrainResult:
    """Train ``method`` (default d2g) on a prepared subject (`ptx train`), or continue its
    newest run (``resume``) or the run folder ``run``; with ``pretrain`` train the method's
    person-agnostic part on ``subjects``. A one-shot method (e.g. dwnet) trains once on
    ``subjects`` (and/or those listed in the file ``subjects_from``), the last
    ``holdout_subjects`` of them held out; ``run`` continues such a run. ``preset``
    defaults to tiny; ``settings`` are ``{field: value}``; ``config`` a YAML file (a saved
    run's ``config.yaml`` works)."""
    from ptx.api.settings import train_overrides, train_settings
    from ptx.methods.registry import get_method

    file = train_settings(config) if config is not None else None
    method = method or (file.method if file else None)
    m = get_method(method)  # an unknown name fails before anything else
    preset = preset or (file.preset if file else None) or "tiny"
    overrides: dict[str, Any] = dict(train_overrides(m, preset, file)) if file else {}
    overrides.update(settings or {})
    if steps is not None:
        overrides["steps"] = steps
    if device is not None:
        overrides["device"] = device
    ws = workspace_of(workspace)
    reporter = reporter_of(progress)
    if pretrain:
        from ptx.training.pretrain import pretrain as pretrain_part

        names = subjects.split(",") if isinstance(subjects, str) else list(subjects or [])
        names = [s.strip() for s in names if s.strip()] or ([subject] if subject else [])
        part_steps = overrides.pop("steps", None)
        return pretrain_part(ws, names, method, preset, overrides,
                             int(part_steps) if part_steps is not None else None, reporter)  # fmt: skip
    from ptx.methods.base import PERSON

    if subject is None and run is not None and method is None and not subjects:
        from ptx.cache.runs import read_run_config

        m = get_method(read_run_config(Path(run)).get("method"))  # continuing a shared run
    if m.kind != PERSON or subjects_from is not None or (subjects and not subject):
        from ptx.training.shared_run import read_subject_list, train_shared

        names = subjects.split(",") if isinstance(subjects, str) else list(subjects or [])
        if subjects_from is not None:
            names += read_subject_list(Path(subjects_from))
        if m.kind == PERSON and subject is None:
            raise InputError(
                f"{m.name} is a person-specific method: it trains on one subject.",
                "Give --subject NAME, or a one-shot method (--method dwnet) for --subjects.",
            )
        if not names and run is None:
            raise InputError(
                f"{m.name} is a one-shot method: it trains on many subjects.",
                "Give --subjects a,b,c or --subjects-from FILE (see `ptx status`).",
            )
        return train_shared(ws, names, holdout_subjects, preset, overrides, method=m.name,
                            run=Path(run) if run is not None else None, reporter=reporter)  # fmt: skip
    if not subject:
        raise InputError("Which subject?", "Give --subject NAME (see `ptx status`).")
    from ptx.training.run import train as train_subject

    return train_subject(ws, subject, preset, overrides, method=method, resume=resume,
                         run=Path(run) if run is not None else None, reporter=reporter)  # fmt: skip


def transfer(
    source: PathLike,
    target: str | None,
    output: PathLike | None = None,
    *,
    method: str | None = None,
    run: PathLike | None = None,
    retarget: str | None = None,
    background: PathLike | None = None,
    alpha: bool = False,
    side_by_side: bool = False,
    keep_audio: bool = False,
    output_size: int | None = None,
    device: str = "auto",
    source_keypoints: str | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    fps: float | None = None,
    workspace: PathLike | Workspace | None = None,
    progress: Any = None,
    _models: dict[Path, Any] | None = None,
    target_image: PathLike | None = None,
) -> TransferResult:
    """Make ``target`` perform the motion of ``source`` (`ptx transfer`): a video, a frame
    folder or a pose file (OpenPose folder, ComfyUI/DWPose JSON, COCO-17, SMPL/AMASS .npz).
    ``settings`` set stages of the source's preparation (``{stage: {field: value}}``);
    ``retarget`` defaults to the model's method's (3d; 2d for edn). With ``target_image``
    (and ``target`` None) a one-shot model animates that picture."""
    from ptx.perform.render import load_model, resolve_run
    from ptx.perform.transfer import transfer as run_transfer
    from ptx.pipeline.keypoints import import_overrides

    ws = workspace_of(workspace)
    prep = {k: dict(v) for k, v in (settings or {}).items()}
    if source_keypoints is not None:
        prep.setdefault("keypoints", {}).update(import_overrides(source_keypoints))
    if target_image is not None:
        from ptx.perform.oneshot_transfer import transfer_to_image

        return transfer_to_image(
            ws, Path(source), Path(target_image), Path(output) if output is not None else None,
            str(run) if run is not None else None, method, device, retarget,
            reporter_of(progress), background=Path(background) if background else None,
            alpha=alpha, side=side_by_side, keep_audio=keep_audio, output_size=output_size,
            prepare_overrides=prep, start=start, end=end, max_frames=max_frames, fps=fps,
        )  # fmt: skip
    model = None
    if _models is not None:  # a batch: each run's model loads once
        run_dir = resolve_run(ws, target, str(run) if run is not None else None, method)
        if run_dir not in _models:
            _models[run_dir] = load_model(run_dir, device)
        model = _models[run_dir]
    return run_transfer(
        ws, source, target, Path(output) if output is not None else None,
        str(run) if run is not None else None, retarget,
        Path(background) if background is not None else None, alpha, side_by_side, keep_audio,
        output_size, prep, reporter=reporter_of(progress), device=device, method=method,
        model=model, start=start, end=end, max_frames=max_frames, fps=fps,
    )  # fmt: skip


def render(
    subject: str,
    output: PathLike | None = None,
    *,
    method: str | None = None,
    run: PathLike | None = None,
    frames: str = "heldout",
    poses: PathLike | None = None,
    fps: float | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    device: str = "auto",
    workspace: PathLike | Workspace | None = None,
) -> RenderResult:
    """Render ``subject``'s own held-out (or all) frames, or a pose file (`ptx render`);
    ``output`` defaults to ``<workspace>/outputs/<subject>-<heldout|all|poses>.mp4``."""
    from ptx.perform.render import render_sequence_video

    ws = workspace_of(workspace)
    name = "poses" if poses is not None else frames
    if output is not None:
        out = Path(output)  # its folder must exist (checked before any work)
    else:
        out = ws.root / "outputs" / f"{subject}-{name}.mp4"
        out.parent.mkdir(parents=True, exist_ok=True)
    return render_sequence_video(
        ws, subject, out, str(run) if run is not None else None, frames, device,
        str(poses) if poses is not None else None, fps, method, start, end, max_frames,
    )  # fmt: skip


def score(
    subject: str,
    *,
    method: str | None = None,
    run: PathLike | None = None,
    device: str = "auto",
    report: PathLike | None = None,
    json: PathLike | None = None,
    workspace: PathLike | Workspace | None = None,
) -> ScoreResult:
    """Held-out metrics of ``subject``'s newest run (of ``method``), or of ``run`` (`ptx
    score`): ``result.results`` maps ssim, psnr, r_ssim, r_psnr, lpips, fid, ... to numbers
    (None with a reason in ``result.reasons``). ``report`` is a folder for the pictures,
    ``json`` a file for the numbers."""
    from ptx.errors import InputError
    from ptx.io.writer import check_writable
    from ptx.perform.score import save_json
    from ptx.perform.score import score as run_score

    ws = workspace_of(workspace)
    if json is not None:  # checked before the scoring work, not after it
        check_writable(Path(json), "--json")
    if report is not None and Path(report).exists() and not Path(report).is_dir():
        raise InputError(f"--report {report} exists and is not a folder.", "Give a folder.")
    res = run_score(ws, subject, str(run) if run is not None else None, device,
                    report_dir=Path(report) if report is not None else None, method=method)  # fmt: skip
    if json is not None:
        save_json(res, Path(json))
    return res


def export(
    target: PathLike,
    what: str,
    output: PathLike,
    *,
    skeleton: str = "body25",
    coords: str = "canonical",
    format: str | None = None,
    workspace: PathLike | Workspace | None = None,
) -> ExportResult:
    """Export ``what`` (openpose, comfyui, pose-video, mask, iuv, background, smpl, frames)
    of a prepared video, frame folder, subject or video id into the folder ``output``
    (`ptx export`; see :mod:`ptx.tools.export`)."""
    from ptx.tools.export import export as run_export

    return run_export(workspace_of(workspace), target, what, Path(output), skeleton, coords,
                      format)  # fmt: skip
