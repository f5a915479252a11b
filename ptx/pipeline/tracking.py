"""The keypoints stage's MediaPipe path: every pending chunk of ``frames_analysis`` through
MediaPipe's pose tracker, restarted per tracker segment (:class:`SegmentedTracker`) so a
frame's detection depends only on its segment, and the segments shared between trackers
running at the same time (:func:`track`). The stage itself (config, imports, clean-up,
quality checks) is ``ptx.pipeline.keypoints``.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from ptx.pipeline.quality import NOT_CHECKED
from ptx.pipeline.stage import StageContext

if TYPE_CHECKING:
    from ptx.pipeline.keypoints import KeypointsConfig


def write_chunk(ctx: StageContext, c: int, start: int, parts: dict[str, np.ndarray]) -> None:
    for name, data in parts.items():
        ctx.store.write(name, start, data)
    ctx.commit(c, frames=len(parts["person_found"]))


class SegmentedTracker:
    """MediaPipe's tracker, started afresh at every ``segment``-th frame after a warm-up
    on the ``warmup`` frames before (``KeypointsConfig.tracker_segment``), so that a frame's
    detection depends only on the frames from its segment's warm-up on. :meth:`process`
    takes frames in any order of chunks: when frame ``t`` is not the one the tracker
    expects next (the first frame, a resume, a chunk after a skipped one), a fresh tracker
    is brought to ``t`` exactly as an uninterrupted run would have: warmed up before the
    segment's start, then run over the segment's frames up to ``t``."""

    def __init__(self, make: Any, read: Any, segment: int, warmup: int) -> None:
        self._make, self._read = make, read
        self.segment, self.warmup = segment, warmup
        self._tracker: Any = None
        self._start = -1
        """First frame of the current tracker's segment."""
        self._next = -1
        """The frame the current tracker expects next."""
        self.replayed = 0
        """Frames run only to bring a fresh tracker to its frame (the cost of the scheme)."""

    def segment_start(self, t: int) -> int:
        return (t // self.segment) * self.segment if self.segment else 0

    def process(self, t: int, rgb: np.ndarray) -> Any:
        start = self.segment_start(t)
        if self._tracker is None or self._next != t or self._start != start:
            self._restart(start)
            first = max(0, start - self.warmup)
            for frame in self._frames(first, t):
                self._tracker.process(frame)  # warm-up and replay: results dropped
            self.replayed += t - first
        det = self._tracker.process(rgb)
        self._next = t + 1
        return det

    def _frames(self, a: int, b: int) -> Any:
        for lo in range(a, b, 64):
            yield from self._read(lo, min(b, lo + 64))

    def _restart(self, start: int) -> None:
        self.close()
        self._tracker = self._make()
        self._start = start

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()
            self._tracker = None


def track(ctx: StageContext, todo: list[int], t_count: int, k: int) -> None:
    """MediaPipe over the pending chunks. The chunks of every other tracker segment go to a
    second tracker running at the same time (``KeypointsConfig.trackers``): a frame's
    detection depends only on its segment and that segment's warm-up, so the outputs are
    those of one tracker, on about twice the cores (MediaPipe's graph runs outside the
    GIL)."""
    cfg: KeypointsConfig = ctx.config
    chunk = ctx.chunk_frames
    groups: dict[int, list[int]] = {}
    for c in todo:
        groups.setdefault((c * chunk) // cfg.tracker_segment if cfg.tracker_segment else 0,
                          []).append(c)  # fmt: skip
    lanes: list[list[int]] = [[] for _ in range(max(1, min(cfg.trackers, len(groups))))]
    for i, key in enumerate(sorted(groups)):
        lanes[i % len(lanes)].extend(groups[key])
    if len(lanes) == 1:
        _track_chunks(ctx, lanes[0], t_count, k, threading.Lock(), threading.Event())
        return
    lock, stop = threading.Lock(), threading.Event()
    failed: list[BaseException] = []

    def other(chunks: list[int]) -> None:
        try:
            _track_chunks(ctx, chunks, t_count, k, lock, stop)
        except BaseException as exc:  # raised in the stage's own thread below
            failed.append(exc)
            stop.set()

    helpers = [threading.Thread(target=other, args=(chunks,), name="ptx-tracker", daemon=True)
               for chunks in lanes[1:]]  # fmt: skip
    for t in helpers:
        t.start()
    try:
        _track_chunks(ctx, lanes[0], t_count, k, lock, stop)
    except BaseException:
        stop.set()  # (Ctrl-C lands here) the other trackers end after their current chunk
        raise
    finally:
        for t in helpers:
            t.join()
    if failed:
        raise failed[0]


def _track_chunks(
    ctx: StageContext,
    todo: list[int],
    t_count: int,
    k: int,
    lock: threading.Lock,
    stop: threading.Event,
) -> None:
    """One tracker over ``todo`` (ascending chunks); reading the next chunk and writing the
    last one run in threads, overlapping inference. Commits hold ``lock``; the loop ends
    early once ``stop`` is set."""
    from ptx.pipeline.mediapipe_pose import CrowdCheck, PoseTracker

    cfg: KeypointsConfig = ctx.config
    chunk = ctx.chunk_frames

    def make() -> PoseTracker:
        return PoseTracker(
            hands=cfg.hands,
            segmentation=cfg.segmentation,
            smooth_landmarks=cfg.mediapipe_smoothing,
            min_detection_confidence=cfg.min_detection_confidence,
            min_tracking_confidence=cfg.min_tracking_confidence,
            static=t_count == 1,  # a photo: MediaPipe's static-image mode
        )

    def frames_at(a: int, b: int) -> np.ndarray:
        return ctx.read("frames_analysis", a, b)

    def read(c: int) -> np.ndarray:
        return frames_at(c * chunk, min(t_count, (c + 1) * chunk))

    def write(c: int, parts: dict[str, np.ndarray]) -> None:
        with lock:
            write_chunk(ctx, c, c * chunk, parts)

    tracker = SegmentedTracker(make, frames_at, cfg.tracker_segment, cfg.tracker_warmup)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ptx-io") as pool:
        writing: Future | None = None
        upcoming = pool.submit(read, todo[0])
        crowd = CrowdCheck() if cfg.crowd_check_every else None
        try:
            for i, c in enumerate(todo):
                frames = upcoming.result()
                if stop.is_set():
                    break
                if i + 1 < len(todo):
                    upcoming = pool.submit(read, todo[i + 1])
                parts = _detect(frames, c * chunk, tracker, crowd, cfg.crowd_check_every, k)
                if writing is not None:
                    writing.result()
                writing = pool.submit(write, c, parts)
            if writing is not None:
                writing.result()
        finally:
            tracker.close()
            if crowd is not None:
                crowd.close()


def _detect(
    frames: np.ndarray, first: int, tracker: SegmentedTracker, crowd: Any, every: int, k: int
) -> dict[str, np.ndarray]:
    n, h, w = frames.shape[:3]
    kp = np.zeros((n, k, 3), np.float32)
    found = np.zeros(n, np.uint8)
    people = np.full(n, NOT_CHECKED, np.uint8)
    seg = np.zeros((n, h, w), np.uint8)
    for i, rgb in enumerate(frames):
        det = tracker.process(first + i, rgb)
        kp[i], found[i] = det.keypoints, det.found
        if det.segmentation is not None:
            seg[i] = det.segmentation
        if crowd is not None and (first + i) % every == 0:
            people[i] = min(crowd.people(rgb, det), NOT_CHECKED - 1)
    return {
        "keypoints_raw": kp,
        "person_found": found,
        "people_seen": people,
        "segmentation_analysis": seg,
    }
