"""`ptx score`: the paper's self-transfer evaluation on a subject's held-out frames.

The trained model renders the held-out tail of each of the subject's videos (frames never
trained on) from their own pose conditions, and the result is compared with the real
frames at the model's frame (H, W) (the real frames, masks and flow are resized to it as in
training). Every image metric is measured over the *picture*: the part of the canonical
frame that shows the source video (``ptx.cache.frame``); where the crop had to pad, the
padding is cut away first (the output and the truth alike), so black bars never count as
trivially right pixels. ``details.picture`` says which part that was, and
``details.padded_fraction`` how much was left out.

- ``ssim``, ``psnr``: the whole picture, background included, as the paper computes them;
  ``person_ssim``, ``person_psnr`` (in ``details``): over the real person mask only
  (ptx.metrics.image);
- ``r_ssim``, ``r_psnr``: on the M=10 held-out frames whose poses are farthest from every
  training pose (ptx.metrics.robust);
- ``temporal_error``: output frame t-1 warped to t with the real frames' flow, mean
  absolute difference (0..255) on valid pixels (ptx.metrics.temporal);
- ``akd``, ``mkr``: MediaPipe's keypoints on the outputs (upscaled to ``keypoint_size``)
  against the real frames' keypoints (ptx.metrics.keypoints);
- ``lpips``, ``fid``: when their weights are present, else null with the reason;
- ``fps``: model-only render speed (the held-out frames' conditions read and rendered; the
  real frames, masks and flow read for the metrics are not counted).
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ptx.cache.atomic import atomic_write_json
from ptx.cache.frame import canonical_frame
from ptx.cache.runs import changed_inputs, read_run_config
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import DamagedError, InputError
from ptx.metrics import (
    FrameScores,
    TemporalErrors,
    challenging_frames,
    fid_score,
    frame_scores,
    keypoint_errors,
    lpips_score,
    temporal_errors,
)
from ptx.nn.arrays import resize_array, resize_keypoints
from ptx.perform.render import (
    LoadedModel,
    StoreConditions,
    heldout_start,
    load_model,
    render_conditions,
    resolve_run,
)

METRICS = (
    "ssim", "psnr", "r_ssim", "r_psnr", "temporal_error", "lpips", "fid", "akd", "mkr", "fps",
)  # fmt: skip


@dataclass
class ScoreResult:
    """nerfstudio ns-eval shape: who was scored, and the numbers."""

    subject: str
    method: str
    run: str
    checkpoint: str
    results: dict[str, float | None]
    extra: dict[str, Any] = field(default_factory=dict)
    """Person-only variants, frame counts, per-frame values for reports."""
    reasons: dict[str, str] = field(default_factory=dict)
    """Why a metric is null."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about these numbers (e.g. the run's inputs changed)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "method": self.method,
            "run": self.run,
            "checkpoint": self.checkpoint,
            "results": self.results,
            "details": {k: v for k, v in self.extra.items() if not isinstance(v, np.ndarray)},
            "null_reasons": self.reasons,
            "notes": self.notes,
            "scored": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }


@dataclass
class _Rendered:
    output: np.ndarray
    """uint8 (N, h, w, 3): the outputs, cut to the picture."""
    truth: np.ndarray
    mask: np.ndarray
    flow: np.ndarray | None
    valid: np.ndarray | None
    truth_kp: np.ndarray
    train_kp: np.ndarray
    labels: list[str]
    bounds: list[tuple[int, int]]
    """[start, stop) of each video's held-out frames in the arrays above."""
    picture: tuple[int, int, int, int]
    """x0, y0, x1, y1 of the picture in the model's frame (the arrays above are cut to it)."""
    padded_fraction: float
    """Share of the model's frame left out as padding."""
    render_seconds: float = 0.0
    """Time spent rendering (conditions read and rendered, as ``render_fps`` measures),
    without reading the real frames, masks and flow the metrics compare against."""


def _heldout(
    model: LoadedModel, ws: Workspace, subject: str
) -> list[tuple[VideoStore, int, int, int]]:
    """(store, video index, first held-out frame, end) per training video of the run."""
    videos = model.videos or [
        {"video": v, "heldout_frames": None} for v in ws.subject(subject)["videos"]
    ]
    out = []
    for i, v in enumerate(videos):
        store = VideoStore(ws, v["video"])
        n = store.open_array("frames").shape[0]
        a = heldout_start(model, v["video"], n)
        if n > a:
            out.append((store, i, int(a), int(n)))
    if not out:
        raise InputError(
            f"Subject '{subject}' has no held-out frames to score.",
            "Train with --set holdout=0.1 (the default) to keep the end of each video out.",
        )
    return out


def picture_of(model: LoadedModel, spans: list) -> tuple[tuple[int, int, int, int], float]:
    """The picture (x0, y0, x1, y1) in the model's frame that every scored video shows (the
    intersection of their content boxes), and the share of the frame outside it."""
    h, w = model.frame
    x0, y0, x1, y1 = 0, 0, w, h
    for store, *_ in spans:
        bx0, by0, bx1, by1 = canonical_frame(store).picture_box(model.frame)
        x0, y0, x1, y1 = max(x0, bx0), max(y0, by0), min(x1, bx1), min(y1, by1)
    if x1 - x0 < 8 or y1 - y0 < 8:  # nothing sensible left: score the whole frame
        x0, y0, x1, y1 = 0, 0, w, h
    return (x0, y0, x1, y1), 1.0 - (x1 - x0) * (y1 - y0) / float(h * w)


def _render_heldout(model: LoadedModel, spans: list) -> _Rendered:
    frame = model.frame
    (x0, y0, x1, y1), padded = picture_of(model, spans)
    cut = (slice(None), slice(y0, y1), slice(x0, x1))
    outs, truths, masks, flows, valids, kps, train_kps, labels = [], [], [], [], [], [], [], []
    bounds: list[tuple[int, int]] = []
    has_flow = all(s.has("flow") and s.has("flow_valid") for s, *_ in spans)
    render_s = 0.0
    for store, vid, a, b in spans:
        t0 = time.perf_counter()
        for chunk in render_conditions(model, StoreConditions(store, a, b), video=vid):
            outs.append(chunk.rgb[cut])
        render_s += time.perf_counter() - t0
        src = canonical_frame(store).shape
        truths.append(_chw_to_hwc(resize_array("frames", store.read("frames", a, b), frame))[cut])
        masks.append(resize_array("mask", store.read("mask", a, b), frame)[:, 0].numpy()[cut])
        if has_flow:
            flows.append(_chw_to_hwc(resize_array("flow", store.read("flow", a, b), frame))[cut])
            valid = store.read("flow_valid", a, b).astype(np.uint8)
            valid = resize_array("flow_valid", valid, frame)[:, 0].numpy().astype(bool)
            valids.append(valid[cut])
        kp = resize_keypoints(store.read("keypoints"), src, frame).numpy()
        kp[..., 0] -= x0
        kp[..., 1] -= y0
        kp[kp[..., 2] <= 0] = 0.0
        kps.append(kp[a:b])
        train_kps.append(kp[:a])
        labels += [f"{store.video_id[:6]} frame {t}" for t in range(a, b)]
        bounds.append((len(labels) - (b - a), len(labels)))
    return _Rendered(
        np.ascontiguousarray(np.concatenate(outs)), np.ascontiguousarray(np.concatenate(truths)),
        np.ascontiguousarray(np.concatenate(masks)),
        np.concatenate(flows).astype(np.float32) if has_flow else None,
        np.concatenate(valids) if has_flow else None,
        np.concatenate(kps), np.concatenate(train_kps), labels, bounds, (x0, y0, x1, y1), padded,
        render_s,
    )  # fmt: skip


def _chw_to_hwc(t: Any) -> np.ndarray:
    return t.permute(0, 2, 3, 1).numpy()


def _detect_keypoints(frames: np.ndarray, size: int) -> np.ndarray:
    """MediaPipe BODY_25 keypoints of ``frames`` uint8 (T, H, W, 3) upscaled to ``size`` on
    their long side, in frame pixels."""
    from ptx.pipeline.mediapipe_pose import PoseTracker

    h, w = frames.shape[1:3]
    scale = max(h, w) / size
    big_w, big_h = max(1, round(w / scale)), max(1, round(h / scale))
    out = np.zeros((len(frames), 25, 3), np.float32)
    with PoseTracker(segmentation=False) as tracker:
        for t, img in enumerate(frames):
            big = cv2.resize(img, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
            det = tracker.process(big)
            out[t] = det.keypoints[:25]
    out[..., :2] *= scale
    return out


def score(
    ws: Workspace,
    subject: str,
    run: str | None = None,
    device: str = "auto",
    keypoint_size: int = 256,
    report_dir: Path | None = None,
    method: str | None = None,
    keep_images: bool = False,
) -> ScoreResult:
    """Score the subject's newest run (of ``method``, or of any method), or ``run``; see
    the module docstring. With ``keep_images`` the result's ``extra`` also holds the
    rendered and real held-out frames (``outputs``, ``truth``: uint8 (T, S, S, 3))."""
    run_dir = resolve_run(ws, subject, run, method)
    model = load_model(run_dir, device)
    spans = _heldout(model, ws, subject)
    r = _render_heldout(model, spans)
    fps = len(r.output) / max(r.render_seconds, 1e-9)  # the rendering alone
    scores = frame_scores(r.output, r.truth, r.mask)
    hard = challenging_frames(r.truth_kp, r.train_kp, m=10)
    hard_scores = scores.subset(hard.indices) if len(hard.indices) else None
    results: dict[str, float | None] = dict.fromkeys(METRICS)
    reasons: dict[str, str] = {}
    summary = scores.summary()
    results["ssim"], results["psnr"] = summary["ssim"], summary["psnr"]
    if hard_scores is not None:
        hs = hard_scores.summary()
        results["r_ssim"], results["r_psnr"] = hs["ssim"], hs["psnr"]
    else:
        reasons["r_ssim"] = reasons["r_psnr"] = "no held-out frame has a comparable pose"
    if r.flow is not None:
        per_video = [  # never across two videos' boundary
            temporal_errors(r.output[a:b], r.flow[a:b], r.valid[a:b]) for a, b in r.bounds
        ]
        results["temporal_error"] = TemporalErrors.concat(per_video).summary()["temporal_error"]
    else:
        reasons["temporal_error"] = "the subject's videos have no flow (run ptx prepare)"
    kp = keypoint_errors(_detect_keypoints(r.output, keypoint_size), r.truth_kp)
    results["akd"], results["mkr"] = kp.akd, kp.mkr
    if kp.akd is None:
        reasons["akd"] = "no keypoint was found in both the outputs and the real frames"
    for name, opt in (
        ("lpips", lpips_score(r.output, r.truth)),
        ("fid", fid_score(r.truth, r.output)),
    ):
        results[name] = opt.value
        if opt.value is None:
            reasons[name] = opt.reason
    results["fps"] = fps
    try:
        changed = changed_inputs(ws, read_run_config(run_dir))
    except (InputError, DamagedError):
        changed = []
    extra = {
        "frames": len(r.output),
        "size": model.size,
        "frame": list(model.frame),
        "picture": list(r.picture),
        "padded_fraction": round(r.padded_fraction, 5),
        "whole_frame_metrics": "over the picture (padding excluded)",
        "person_psnr": summary["person_psnr"],
        "person_ssim": summary["person_ssim"],
        "challenging_frames": [r.labels[i] for i in hard.indices],
        "step": model.step,
        "psnr_per_frame": scores.psnr,
        "challenging_indices": np.asarray(hard.indices),
    }
    if keep_images:
        extra.update(outputs=r.output, truth=r.truth)
    notes = [*model.notes, *(f"The run's inputs changed since it trained: {c}." for c in changed)]
    result = ScoreResult(
        subject, model.method.name, run_dir.name, model.checkpoint.name, results, extra,
        reasons, notes,
    )  # fmt: skip
    if report_dir is not None:
        write_report(report_dir, r, scores, hard.indices)
    return result


def write_report(folder: Path, r: _Rendered, scores: FrameScores, hard: np.ndarray) -> list[Path]:
    """The challenging-pose strip and the per-frame PSNR plot."""
    from ptx.metrics.report import challenging_strip, psnr_plot

    folder.mkdir(parents=True, exist_ok=True)
    idx = hard if len(hard) else np.arange(min(5, len(r.output)))
    strip = challenging_strip(
        r.truth[idx], r.output[idx], folder / "challenging.png", [r.labels[i] for i in idx]
    )
    plot = psnr_plot(scores.psnr, folder / "psnr.png", highlight=hard)
    return [strip, plot]


def save_json(result: ScoreResult, path: Path) -> Path:
    atomic_write_json(path, result.to_json())
    return path
