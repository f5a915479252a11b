"""`ptx transfer`: make a trained target perform a source video's motion.

1. The source goes through the same cached stages as any video (up to the last one the
   model's method needs, and the body fit for ``--retarget 3d``; a second transfer from the
   same source reuses them). It joins no subject: it is motion, not a person to train.
2. Its motion is retargeted to the target (:mod:`ptx.perform.retarget_render`).
3. The target's model renders the sequence chunk by chunk (memory does not grow with the
   source's length) over the learned background, a given image, or alone with alpha.
4. The result is encoded at the source's frame rate, with its audio on request.

The source may also be a pose file (``ptx.perform.motion``: OpenPose JSON, ComfyUI/DWPose
JSON, COCO-17 keypoints, SMPL/AMASS motion) or a folder of frames; ``start``, ``end``,
``max_frames`` and ``fps`` trim and resample it (a video's through its preparation).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, name_from_path
from ptx.errors import InputError
from ptx.io.writer import VideoWriter, check_output_path, side_by_side
from ptx.perform.render import LoadedModel, load_model, render_conditions, resolve_run
from ptx.perform.retarget_render import MODES, RetargetConditions
from ptx.pipeline.runner import prepare_video
from ptx.pipeline.stage import NullReporter

MAX_OUTPUT = 4096
"""Largest ``--output-size`` (pixels)."""


@dataclass
class TransferResult:
    output: Path
    frames: int
    fps: float
    seconds: float
    render_fps: float
    """Frames/s of retargeting + rendering + encoding (the source's preparation excluded)."""
    run: Path
    notes: list[str] = field(default_factory=list)


def subject_store(ws: Workspace, subject: str, index: int = 0) -> VideoStore:
    videos = ws.subject(subject)["videos"]
    if not videos:
        raise InputError(f"Subject '{subject}' has no prepared video.")
    return VideoStore(ws, videos[min(index, len(videos) - 1)])


def load_background(path: Path, size: int, notes: list[str]) -> np.ndarray:
    """An RGB background image resized to ``size`` x ``size`` (the change is noted)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR) if Path(path).is_file() else None
    if img is None:
        raise InputError(f"Cannot read background image {path}.", "Give a PNG or JPEG file.")
    h, w = img.shape[:2]
    if (h, w) != (size, size):
        notes.append(f"background {path.name} resized from {w}x{h} to {size}x{size}")
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def source_stages(model: LoadedModel, retarget: str) -> str:
    """The last preparation stage a transfer source needs: the method's, or the body fit's
    outputs for ``3d`` retargeting, whichever comes later."""
    from ptx.pipeline.registry import STAGES

    order = list(STAGES)
    need = [model.method.source_until, *(["fit"] if retarget == "3d" else [])]
    return max(need, key=order.index)


def transfer(
    ws: Workspace,
    source: Path,
    target: str,
    output: Path | None = None,
    run: str | None = None,
    retarget: str = "3d",
    background: Path | None = None,
    alpha: bool = False,
    side: bool = False,
    keep_audio: bool = False,
    output_size: int | None = None,
    prepare_overrides: dict[str, dict[str, Any]] | None = None,
    reporter: Any = None,
    device: str = "auto",
    method: str | None = None,
    model: LoadedModel | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    fps: float | None = None,
) -> TransferResult:
    """Run the whole transfer; see the module docstring. ``run``/``method`` choose the
    target's model (default: its newest run of any method); ``model`` is one already
    loaded (a batch of transfers loads each model once)."""
    from ptx.perform.motion import pose_conditions, pose_spec

    reporter = reporter or NullReporter()
    if retarget not in MODES:
        raise InputError(f"Unknown --retarget {retarget!r}.", f"Use one of {', '.join(MODES)}.")
    if alpha and background is not None:
        raise InputError("--alpha and --background exclude each other.")
    if output_size is not None and not 16 <= output_size <= MAX_OUTPUT:
        raise InputError(
            f"--output-size {output_size} is not possible.",
            f"Give a size from 16 to {MAX_OUTPUT} pixels, or leave it out for the model's size.",
        )
    if background is not None and not Path(background).is_file():
        raise InputError(f"Cannot read background image {background}.", "Give a PNG or JPEG file.")
    poses = pose_spec(source)
    source = Path(poses[1] if poses else source)
    if output is None:
        suffix = "" if alpha else ".mp4"
        output = ws.root / "outputs" / f"{name_from_path(source)}-as-{target}{suffix}"
        output.parent.mkdir(parents=True, exist_ok=True)
    check_output_path(output, alpha)  # before any work
    if model is None:
        model = load_model(resolve_run(ws, target, run, method), device)
    tgt_store = subject_store(ws, target)
    size = int(tgt_store.open_array("frames").shape[1])
    notes: list[str] = list(model.notes)
    src_store = None
    if poses is not None:  # motion from a pose file: no source video to show or hear
        if side:
            raise InputError("--side-by-side needs a source video, not a pose file.")
        conds, out_fps, pose_notes = pose_conditions(
            f"{poses[0]}:{poses[1]}", tgt_store, fps, start, end, max_frames,
        )  # fmt: skip
        notes += pose_notes
        if keep_audio:
            notes.append(f"{source.name} is a pose file; the result is silent")
    else:
        overrides = {k: dict(v) for k, v in (prepare_overrides or {}).items()}
        overrides.setdefault("crop", {}).setdefault("size", size)
        trim = {"start": start, "end": end, "max_frames": max_frames, "fps": fps}
        overrides.setdefault("extract", {}).update({k: v for k, v in trim.items() if v is not None})
        prepared = prepare_video(
            source, ws, None, overrides, until=source_stages(model, retarget), reporter=reporter,
            join_subject=False,
        )  # fmt: skip
        src_store = VideoStore(ws, prepared.video_id)
        if keep_audio and not src_store.meta("extract").get("has_audio"):
            notes.append(f"{source.name} has no audio track; the result is silent")
        conds = RetargetConditions(src_store, tgt_store, retarget)
        out_fps = float(src_store.meta("extract")["fps"])
    bg = load_background(background, size, notes) if background is not None else None
    t0 = time.perf_counter()
    frames = _write(model, conds, src_store, output, bg, alpha, side, keep_audio, output_size,
                    reporter, out_fps)  # fmt: skip
    seconds = time.perf_counter() - t0
    return TransferResult(
        output, frames, out_fps, seconds, frames / max(seconds, 1e-9), model.run_dir, notes
    )


def _write(
    model: LoadedModel,
    conds: RetargetConditions,
    src_store: VideoStore | None,
    output: Path,
    bg: np.ndarray | None,
    alpha: bool,
    side: bool,
    keep_audio: bool,
    output_size: int | None,
    reporter: Any,
    fps: float,
) -> int:
    meta = src_store.meta("extract") if src_store is not None else {}
    out_size = output_size or model.size
    width = out_size * (2 if side else 1)
    audio = None
    if keep_audio and src_store is not None and meta.get("has_audio"):
        audio = src_store.workspace.source_path(src_store.video_id)
    writer = VideoWriter(
        output, fps, (width, out_size), alpha=alpha, audio_from=audio,
        audio_start=float(meta.get("start", 0.0)),
    )  # fmt: skip
    if hasattr(reporter, "render_start"):
        reporter.render_start(len(conds))
    count = 0
    with writer:
        for chunk in render_conditions(model, conds, background=bg, foreground_only=alpha):
            for i in range(len(chunk.rgb)):
                img = _resize(chunk.rgb[i], out_size)
                if alpha:
                    a = _resize(chunk.alpha[i][..., None], out_size)
                    img = np.concatenate([img, a.reshape(out_size, out_size, 1)], -1)
                elif side and src_store is not None:
                    src = src_store.read("frames", chunk.start + i, chunk.start + i + 1)[0]
                    img = side_by_side(src, img)
                writer.write(img)
                count += 1
            if hasattr(reporter, "render_advance"):
                reporter.render_advance(len(chunk.rgb))
    return count


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[0] == size:
        return img
    interp = cv2.INTER_CUBIC if size > img.shape[0] else cv2.INTER_AREA
    return cv2.resize(img, (size, size), interpolation=interp)
