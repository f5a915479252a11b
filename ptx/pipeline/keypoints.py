"""Stage ``keypoints``: find the person in every analysis frame, clean the tracks, check them.

Detection is MediaPipe 0.10.21 pose tracking (``ptx.pipeline.mediapipe_pose``: which BODY_25
points are derived, and how) or, with ``import_from = "openpose:DIR"``, OpenPose JSON
files made elsewhere (in source-video pixels, as OpenPose writes them; scaled here to the
analysis frames). Both go through the same clean-up (``ptx.pipeline.smoothing``) and the
same quality gates (``ptx.pipeline.quality``).

Outputs, all in ``frames_analysis`` pixels (picture spanning ``[0, w] x [0, h]``):

- ``keypoints_analysis`` float32 (T, K, 3): cleaned tracks; K = 25 (BODY_25), or 67 with
  ``hands`` (then both hands, left first). Missing joints are ``0, 0, 0``.
- ``keypoints_raw`` float32 (T, K, 3): the detections before clean-up.
- ``person_found`` uint8 (T,): 1 where the person was detected.
- ``people_seen`` uint8 (T,): people in view (0, 1, 2, ...; 255 where not checked).
- ``segmentation_analysis`` uint8 (T, h, w): the pose model's person probability x 255
  (all zero when imported or with ``segmentation`` off; the ``mask`` stage then makes its
  own, see ``ptx.pipeline.mask``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptx.body.skeleton import BODY_JOINTS, WITH_HANDS
from ptx.config import setting
from ptx.errors import InputError
from ptx.io.openpose import read_openpose_numbered
from ptx.pipeline.quality import NOT_CHECKED, check_quality
from ptx.pipeline.smoothing import SMOOTHERS, clean_keypoints
from ptx.pipeline.sources import display_name
from ptx.pipeline.stage import LOAD_MEDIAPIPE, Stage, StageContext
from ptx.pipeline.tracking import track, write_chunk

IMPORT_KINDS = ("openpose",)


@dataclass
class KeypointsConfig:
    import_from: str | None = None
    """Read keypoints from files instead of running MediaPipe: ``openpose:DIR`` (a folder
    of OpenPose ``--write_json`` files, BODY_25 or COCO-18, one per source frame)."""
    import_digest: str = ""
    """Content hash of the imported files; ``ptx prepare --keypoints`` fills it in so that
    edited files re-run the stage."""
    hands: bool = False
    """Also track both hands (MediaPipe holistic, ~1.6x slower; or the OpenPose hand
    keypoints when importing): K = 67 instead of 25."""
    segmentation: bool = True
    """Keep the pose model's person segmentation for the ``mask`` stage."""
    mediapipe_smoothing: bool = False
    """MediaPipe's own (causal, lagging) landmark filter; ptx's clean-up replaces it."""
    min_detection_confidence: float = 0.5
    """MediaPipe's threshold for finding a person."""
    min_tracking_confidence: float = 0.5
    """MediaPipe's threshold below which tracking gives up and detection runs again."""
    tracker_segment: int = 128
    """MediaPipe's tracker starts afresh every this many frames (0: once, at frame 0),
    first warmed on the ``tracker_warmup`` frames before the segment. A frame's detection
    then depends only on its segment and that warm-up, so a stage resumed after a kill
    (which brings a fresh tracker to the resumed frame the same way) gives exactly what an
    uninterrupted one gives. Measured against continuous tracking (benchmarks/
    bench_tracker.py): the same error to the ground truth of a synthetic dance (median 2.67
    px, mean 3.26 px at 256 px) and, on a real 640 px clip, a median difference of 0.00 px
    (99th percentile 1.4 px); up to 12.5% more inference (the warm-ups)."""
    tracker_warmup: int = 16
    """Frames before a segment the fresh tracker sees first, its outputs dropped (so it is
    tracking, not detecting anew, when the segment begins)."""
    trackers: int = setting(2, fingerprint=False)
    """Trackers running at once, each on every n-th segment (each segment's detections are
    the same for any number, so changing it re-runs nothing; 1: one after the other)."""
    cleanup: bool = True
    """Fill short gaps and smooth the tracks (False keeps the detections as they are)."""
    max_gap: float = 0.25
    """Longest gap in a joint's track (seconds) that is filled by interpolation."""
    min_confidence: float = 0.0
    """Joints at or below this confidence count as missing for the clean-up."""
    smoothing: str = "savgol"
    """``savgol`` (local quadratic fit), ``one-euro`` or ``none``; see ptx.pipeline.smoothing."""
    smoothing_window: float = 0.23
    """Width (seconds) of the Savitzky-Golay window."""
    one_euro_min_cutoff: float = 1.0
    """One-Euro cut-off (Hz) for still joints."""
    one_euro_beta: float = 10.0
    """One-Euro speed coefficient (per person height per second)."""
    crowd_check_every: int = 8
    """Look for other people in every n-th frame (selfie segmentation, ~3 ms); 0: never."""
    min_detection_rate: float = 0.9
    """Warn when the person is found in fewer than this fraction of the frames."""
    max_crowded_rate: float = 0.1
    """Warn when a second person is in view in at least this fraction of checked frames."""
    strict: bool = setting(False, fingerprint=False)
    """Turn the quality warnings into an error (QualityError), also when the stage is
    cached; it changes no output (``ptx prepare --strict`` does the same for every stage)."""


def parse_import(spec: str | None) -> Path | None:
    """``"openpose:DIR"`` -> ``DIR``; None -> None; anything else raises InputError."""
    if not spec:
        return None
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in IMPORT_KINDS or not rest:
        raise InputError(
            f"Cannot read --keypoints {spec!r}.",
            "Write it as openpose:DIR (a folder of OpenPose JSON files).",
        )
    return Path(rest).expanduser()


def import_digest(folder: Path) -> str:
    """BLAKE2b of the names and contents of the OpenPose files in ``folder``."""
    h = hashlib.blake2b(digest_size=16)
    for p in sorted(folder.glob("*_keypoints.json")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def import_overrides(spec: str) -> dict[str, Any]:
    """The keypoints settings for ``--keypoints SPEC``: the folder made absolute, plus the
    digest of its files (so the stage re-runs when they change)."""
    folder = parse_import(spec)
    assert folder is not None
    if not folder.is_dir():
        raise InputError(f"OpenPose folder {folder} does not exist.", "Check --keypoints.")
    folder = folder.resolve()
    return {"import_from": f"openpose:{folder}", "import_digest": import_digest(folder)}


def _check(cfg: KeypointsConfig) -> None:
    if cfg.smoothing not in SMOOTHERS:
        raise InputError(
            f"keypoints.smoothing={cfg.smoothing!r} is unknown.",
            f"Use one of: {', '.join(SMOOTHERS)}.",
        )
    if cfg.max_gap < 0 or cfg.smoothing_window <= 0 or cfg.crowd_check_every < 0:
        raise InputError(
            "keypoints.max_gap and crowd_check_every must be >= 0, smoothing_window > 0.",
            "Fix the --set value.",
        )
    if cfg.trackers < 1:
        raise InputError(f"keypoints.trackers={cfg.trackers} must be 1 or more.")
    if cfg.tracker_segment < 0 or cfg.tracker_warmup < 0:
        raise InputError(
            "keypoints.tracker_segment and tracker_warmup must be >= 0.", "Fix the --set value."
        )


class KeypointsStage(Stage):
    name = "keypoints"
    version = 2
    """2: the tracker restarts in segments (``tracker_segment``), so a resume is exact."""
    Config = KeypointsConfig
    inputs = ("frames_analysis",)
    outputs = (
        "keypoints_analysis",
        "keypoints_raw",
        "person_found",
        "people_seen",
        "segmentation_analysis",
    )

    @classmethod
    def check(cls, config: KeypointsConfig) -> None:
        _check(config)
        parse_import(config.import_from)

    @classmethod
    def preload(cls, config: KeypointsConfig) -> tuple[str, ...]:
        return () if config.import_from else (LOAD_MEDIAPIPE,)

    def run(self, ctx: StageContext) -> None:
        cfg: KeypointsConfig = ctx.config
        ext = ctx.store.meta("extract")
        t_count, w, h = int(ext["frame_count"]), int(ext["width"]), int(ext["height"])
        k = WITH_HANDS if cfg.hands else BODY_JOINTS
        for name, shape, dtype in (
            ("keypoints_analysis", (t_count, k, 3), np.float32),
            ("keypoints_raw", (t_count, k, 3), np.float32),
            ("person_found", (t_count,), np.uint8),
            ("people_seen", (t_count,), np.uint8),
            ("segmentation_analysis", (t_count, h, w), np.uint8),
        ):
            ctx.create_array(name, shape, dtype)
        chunk = ctx.chunk_frames
        todo = ctx.pending(-(-t_count // chunk), total_frames=t_count)
        folder = parse_import(cfg.import_from)
        if folder is not None:
            _import(ctx, folder, todo, ext, k)
        elif todo:
            track(ctx, todo, t_count, k)
        _finish(ctx, ext, k, imported=folder is not None)


def _import(ctx: StageContext, folder: Path, todo: list[int], ext: dict, k: int) -> None:
    """OpenPose files -> the raw arrays, in analysis pixels."""
    t_count = int(ext["frame_count"])
    wanted = np.rint(
        (ext["start"] + np.arange(t_count) / ext["fps"]) * ext["source_fps"] + 1e-6
    ).astype(np.int64)
    op = read_openpose_numbered(folder, hands=k == WITH_HANDS)
    row = {int(n): i for i, n in enumerate(op.numbers)}
    have = np.array([int(n) in row for n in wanted])
    if have.mean() < 0.9:
        raise InputError(
            f"The OpenPose folder {folder} has files for frames "
            f"{int(op.numbers.min())}-{int(op.numbers.max())}, but "
            f"{ctx.source.name if ctx.source else 'the video'} needs frames "
            f"{int(wanted.min())}-{int(wanted.max())} ({int((~have).sum())} missing).",
            "Was it made from this video, at its own frame rate? Re-run OpenPose on it.",
        )
    kp = np.zeros((t_count, k, 3), np.float32)
    people = np.zeros(t_count, np.uint8)
    idx = np.array([row.get(int(n), -1) for n in wanted])
    kp[have] = op.keypoints[idx[have]]
    people[have] = np.minimum(op.people[idx[have]], NOT_CHECKED - 1)
    scale = np.array([ext["width"] / ext["source_width"], ext["height"] / ext["source_height"]])
    present = kp[..., 2] > 0
    kp[..., :2] = np.where(present[..., None], kp[..., :2] * scale, 0.0)
    found = present[:, :BODY_JOINTS].any(axis=1).astype(np.uint8)
    chunk = ctx.chunk_frames
    for c in todo:
        a, b = c * chunk, min(t_count, (c + 1) * chunk)
        parts = {"keypoints_raw": kp[a:b], "person_found": found[a:b], "people_seen": people[a:b]}
        write_chunk(ctx, c, a, parts)


def _finish(ctx: StageContext, ext: dict, k: int, imported: bool) -> None:
    """Clean the whole tracks, apply the quality gates, record what happened."""
    cfg: KeypointsConfig = ctx.config
    raw = ctx.store.read("keypoints_raw")
    found = ctx.store.read("person_found").astype(bool)
    people = ctx.store.read("people_seen")
    fps = float(ext["fps"])
    if cfg.cleanup:
        clean, stats = clean_keypoints(
            raw,
            fps,
            max_gap=round(cfg.max_gap * fps),
            min_confidence=cfg.min_confidence,
            method=cfg.smoothing,
            window=cfg.smoothing_window,
            min_cutoff=cfg.one_euro_min_cutoff,
            beta=cfg.one_euro_beta,
        )
        filled, missing = stats.filled, stats.missing
    else:
        clean, filled, missing = raw.copy(), 0, int((raw[..., 2] <= 0).sum())
    name = display_name(ctx.source, ctx.store.workspace) if ctx.source else ctx.store.video_id
    warnings = check_quality(
        name,
        found,
        people,
        raw,
        int(ext["width"]),
        int(ext["height"]),
        min_detection_rate=cfg.min_detection_rate,
        max_crowded_rate=cfg.max_crowded_rate,
        check_step=1 if imported else max(1, cfg.crowd_check_every),
    )
    ctx.store.write("keypoints_analysis", 0, clean)
    checked = people != NOT_CHECKED
    ctx.set_meta(
        detector="openpose" if imported else "mediapipe",
        joints=k,
        width=int(ext["width"]),
        height=int(ext["height"]),
        segmentation=bool(cfg.segmentation and not imported),
        frames_found=int(found.sum()),
        detection_rate=float(found.mean()),
        frames_checked_for_people=int(checked.sum()),
        frames_with_others=int((checked & (people >= 2)).sum()),
        joints_filled=filled,
        joints_missing=missing,
    )
    ctx.gate(warnings)  # with --strict: one QualityError naming them all
