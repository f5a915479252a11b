"""`ptx transfer`: make a trained target perform a source video's motion.

1. The source goes through the same cached stages as any video (up to the last one the
   model's method needs, and the body fit for ``--retarget 3d``; a second transfer from the
   same source reuses them). It joins no subject: it is motion, not a person to train.
2. Its motion is retargeted to the target (:mod:`ptx.perform.retarget_render`), into the
   target's canonical frame, whatever the source's shape: the target's frame decides the
   output.
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

from ptx.cache.frame import canonical_frame
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, name_from_path
from ptx.errors import InputError
from ptx.io.writer import VideoWriter, check_output_path, side_by_side
from ptx.methods.base import PERSON
from ptx.perform.render import (
    LoadedModel,
    fit_image,
    load_model,
    render_conditions,
    resolve_run,
)
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


def load_background(path: Path, shape: int | tuple[int, int], notes: list[str]) -> np.ndarray:
    """An RGB background image for a frame of ``shape`` (H, W) (or the side of a square):
    scaled to cover it and cut to it around the centre, keeping its aspect (the change is
    noted)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR) if Path(path).is_file() else None
    if img is None:
        raise InputError(f"Cannot read background image {path}.", "Give a PNG or JPEG file.")
    out_h, out_w = (shape, shape) if isinstance(shape, int) else shape
    h, w = img.shape[:2]
    if (h, w) != (out_h, out_w):
        s = max(out_w / w, out_h / h)
        nw, nh = max(out_w, round(w * s)), max(out_h, round(h * s))
        img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        x0, y0 = (nw - out_w) // 2, (nh - out_h) // 2
        img = img[y0 : y0 + out_h, x0 : x0 + out_w]
        cut = " and cut" if (nw, nh) != (out_w, out_h) else ""
        notes.append(f"background {path.name} resized{cut} from {w}x{h} to {out_w}x{out_h}")
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2RGB)


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
    retarget: str | None = None,
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
    target_store: VideoStore | None = None,
) -> TransferResult:
    """Run the whole transfer; see the module docstring. ``run``/``method`` choose the
    target's model (default: its newest run of any method); ``model`` is one already
    loaded (a batch of transfers loads each model once); ``retarget`` defaults to the
    model's method's (``Method.retarget``). ``target_store``: a prepared picture a one-shot
    ``model`` animates (``ptx.perform.oneshot_transfer``) instead of the subject ``target``."""
    from ptx.perform.motion import pose_conditions, pose_spec

    reporter = reporter or NullReporter()
    if retarget is not None and retarget not in MODES:
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
    retarget = retarget or model.method.retarget
    if target_store is None and model.method.kind != PERSON:
        raise InputError(
            f"Run {model.run_dir} is a one-shot {model.method.name} model: it animates a "
            "picture, not a trained subject.",
            "Give --target-image photo.jpg (or a person-specific run for --target).",
        )
    tgt_store = target_store or subject_store(ws, target)
    shape = canonical_frame(tgt_store).shape
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
        crop = overrides.setdefault("crop", {})
        crop.setdefault("size", max(shape))
        if int(crop["size"]) % 32:  # a long side no rectangle can have (an old square target)
            crop.setdefault("aspect", "square")
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
    bg = load_background(background, shape, notes) if background is not None else None
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
    out_h, out_w = model.output_shape(output_size)
    if side and src_store is not None:  # the source's frame at the result's height, then it
        src_h, src_w = canonical_frame(src_store).shape
        out_full = max(1, round(src_w * out_h / src_h)) + out_w
    else:
        out_full = out_w
    audio = None
    if keep_audio and src_store is not None and meta.get("has_audio"):
        audio = src_store.workspace.source_path(src_store.video_id)
    writer = VideoWriter(
        output, fps, (out_full, out_h), alpha=alpha, audio_from=audio,
        audio_start=float(meta.get("start", 0.0)),
    )  # fmt: skip
    if hasattr(reporter, "render_start"):
        reporter.render_start(len(conds))
    count = 0
    with writer:
        for chunk in render_conditions(model, conds, background=bg, foreground_only=alpha):
            for i in range(len(chunk.rgb)):
                img = fit_image(chunk.rgb[i], (out_h, out_w))
                if alpha:
                    a = fit_image(chunk.alpha[i][..., None], (out_h, out_w))
                    img = np.concatenate([img, a.reshape(out_h, out_w, 1)], -1)
                elif side and src_store is not None:
                    src = src_store.read("frames", chunk.start + i, chunk.start + i + 1)[0]
                    img = side_by_side(src, img)
                writer.write(img)
                count += 1
            if hasattr(reporter, "render_advance"):
                reporter.render_advance(len(chunk.rgb))
    return count
