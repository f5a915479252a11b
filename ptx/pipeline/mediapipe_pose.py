"""MediaPipe 0.10.21 pose tracking, in OpenPose BODY_25 order and pixel coordinates.

MediaPipe's 33 pose landmarks map to BODY_25 like this (``L``/``R`` are the person's own
left and right in both conventions):

- taken as they are: Nose, the shoulders, elbows, wrists, hips, knees, ankles, the eye
  centres (MediaPipe 2, 5), the ears, the heels (29, 30) and the big toes (MediaPipe's
  ``foot_index`` 31, 32);
- derived: **Neck** = the shoulders' midpoint, **MidHip** = the hips' midpoint (confidence:
  the smaller of the two), and **LSmallToe / RSmallToe** = 85% of the way from the heel to
  the big toe (MediaPipe has no small toe; confidence: the smaller of heel and toe).

MediaPipe's hips sit a little higher and wider than OpenPose's, and its neck (from the
shoulders) a little lower. Confidence is MediaPipe's per-landmark visibility. Positions are
``x * width, y * height`` of the normalised landmarks, i.e. ptx's pixel convention (the
picture spans ``[0, W] x [0, H]``); joints outside the picture keep MediaPipe's estimate.

With ``hands`` the holistic model also tracks both hands (21 points each, the same order as
OpenPose's hand model), appended after the body (K = 67); a hand's confidence is its wrist's
visibility where the hand was found, 0 where it was not.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import cv2
import numpy as np

from ptx.body.skeleton import BODY_JOINTS, HAND_JOINTS, WITH_HANDS

_DIRECT = {
    0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 9: 24, 10: 26, 11: 28, 12: 23, 13: 25,
    14: 27, 15: 5, 16: 2, 17: 8, 18: 7, 19: 31, 21: 29, 22: 32, 24: 30,
}  # fmt: skip
"""BODY_25 index -> MediaPipe landmark index, for the joints taken as they are."""

_DERIVED = {1: ((11, 0.5), (12, 0.5)), 8: ((23, 0.5), (24, 0.5))}
_DERIVED.update({20: ((29, 0.15), (31, 0.85)), 23: ((30, 0.15), (32, 0.85))})
"""BODY_25 index -> weighted MediaPipe landmarks it is the weighted sum of."""


DEFERRED = ("matplotlib.pyplot",)
"""Modules MediaPipe's package imports but ptx never uses (pyplot, for its landmark
plotting: ~0.3 s of CPU); while :func:`load_mediapipe` imports MediaPipe they are loaded
lazily, on first use."""


def load_mediapipe() -> Any:
    """``import mediapipe``, with :data:`DEFERRED` loaded lazily: such a module is in
    ``sys.modules`` as usual and runs its code on its first attribute access (``importlib.
    util.LazyLoader``), so ``import matplotlib.pyplot`` still works as ever afterwards."""
    with _deferred(DEFERRED):
        import mediapipe

    return mediapipe


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Finds ``names`` with the finders after it and hands them out lazily loaded."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.names:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or isinstance(finder, _LazyFinder) or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


@contextlib.contextmanager
def _deferred(names: tuple[str, ...]) -> Iterator[None]:
    finder = _LazyFinder(names)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def _mapping() -> tuple[np.ndarray, list[list[int]]]:
    weights = np.zeros((BODY_JOINTS, 33), np.float64)
    sources: list[list[int]] = []
    for j in range(BODY_JOINTS):
        if j in _DIRECT:
            weights[j, _DIRECT[j]] = 1.0
            sources.append([_DIRECT[j]])
        else:
            for m, w in _DERIVED[j]:
                weights[j, m] = w
            sources.append([m for m, _ in _DERIVED[j]])
    return weights, sources


_WEIGHTS, _SOURCES = _mapping()


def mediapipe_to_body25(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """MediaPipe pose landmarks float (..., 33, 3) (normalised x, y, visibility) ->
    BODY_25 float32 (..., 25, 3) in pixels (module docstring)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    xy = np.einsum("jm,...mc->...jc", _WEIGHTS, lm[..., :2]) * np.array([width, height])
    vis = np.stack([lm[..., src, 2].min(axis=-1) for src in _SOURCES], axis=-1)
    return np.concatenate([xy, vis[..., None]], axis=-1).astype(np.float32)


_START_UP_CHATTER = re.compile(
    rb"INFO: Created TensorFlow Lite XNNPACK delegate"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|W0000 .*inference_feedback_manager\.cc"
    rb"|W0000 .*landmark_projection_calculator\.cc:\d+\] Using NORM_RECT without IMAGE_DIM"
)
"""Lines MediaPipe's C++ side prints on stderr as its models start: not for users."""


class _StderrHold:
    """Process-wide, counted: while anyone holds it, what is written to file descriptor 2
    goes to a temporary file; when the last holder lets go, everything caught except whole
    lines of known start-up chatter is written on, byte for byte.

    Counted because MediaPipe graphs start asynchronously and overlap: a tracker and a
    crowd check are both starting while the first frames run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._saved: int | None = None
        self._caught: Any = None

    def acquire(self) -> None:
        with self._lock:
            self._holders += 1
            if self._holders > 1:
                return
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError):  # no usable stderr: nothing to hold back
                return
            self._caught = tempfile.TemporaryFile()  # noqa: SIM115 (held across calls)
            os.dup2(self._caught.fileno(), 2)
            self._saved = saved

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders or self._saved is None:
                return
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()  # Python's own buffered lines belong before the release
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._caught.seek(0)
            lines = self._caught.read().splitlines(keepends=True)
            self._caught.close()
            self._saved = self._caught = None
            kept = b"".join(line for line in lines if not _START_UP_CHATTER.match(line))
            if kept:
                os.write(2, kept)


_HOLD = _StderrHold()


class QuietSolution:
    """A MediaPipe solution (``process(rgb)``, ``close()``) whose start-up chatter is held
    back (:class:`_StderrHold`) from the moment it is built until
    ``started(result)`` says its models have all run (a pose model loads its landmark model
    only on the first frame with a person), or ``patience`` calls at most."""

    def __init__(
        self,
        build: Callable[[], Any],
        started: Callable[[Any], bool] = lambda result: True,
        patience: int = 30,
    ) -> None:
        _HOLD.acquire()
        self._holding = True
        try:
            self._model = build()
        except BaseException:
            self._let_go()
            raise
        self._started = started
        self._calls_left = patience

    def process(self, rgb: np.ndarray) -> Any:
        try:
            result = self._model.process(rgb)
        except BaseException:
            self._let_go()
            raise
        if self._holding:
            self._calls_left -= 1
            if self._calls_left <= 0 or self._started(result):
                self._let_go()
        return result

    def _let_go(self) -> None:
        if self._holding:
            self._holding = False
            _HOLD.release()

    def close(self) -> None:
        self._let_go()
        self._model.close()

    def __del__(self) -> None:  # never leave stderr held by a solution nobody closed
        if getattr(self, "_holding", False):
            self._let_go()


@dataclass
class Detection:
    """MediaPipe's answer for one frame."""

    keypoints: np.ndarray
    """float32 (K, 3) in pixels; zeros when no person was found."""
    found: bool
    segmentation: np.ndarray | None
    """uint8 (H, W) person probability x 255 from the pose model, when asked for and found."""


class PoseTracker:
    """MediaPipe pose (or holistic, with hands) in tracking mode, model_complexity=1; with
    ``static`` in static-image mode (every picture detected afresh: a photo)."""

    def __init__(
        self,
        hands: bool = False,
        segmentation: bool = True,
        smooth_landmarks: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        static: bool = False,
    ) -> None:
        mp = load_mediapipe()  # slow to import: only when a stage really runs it

        self.hands = hands
        self.segmentation = segmentation
        opts: dict[str, Any] = dict(
            static_image_mode=static,
            model_complexity=1,
            smooth_landmarks=smooth_landmarks,
            enable_segmentation=segmentation,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        if hands:
            build = partial(mp.solutions.holistic.Holistic, refine_face_landmarks=False, **opts)
        else:
            build = partial(mp.solutions.pose.Pose, **opts)
        self._model = QuietSolution(build, lambda res: res.pose_landmarks is not None)
        self.k = WITH_HANDS if hands else BODY_JOINTS

    def process(self, rgb: np.ndarray) -> Detection:
        """Track the person in ``rgb`` uint8 (H, W, 3), the next frame of the video."""
        h, w = rgb.shape[:2]
        res = self._model.process(np.ascontiguousarray(rgb))
        kp = np.zeros((self.k, 3), np.float32)
        if res.pose_landmarks is None:
            return Detection(kp, False, None)
        lm = np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark])
        kp[:BODY_JOINTS] = mediapipe_to_body25(lm, w, h)
        if self.hands:
            _add_hands(kp, res, w, h)
        seg = None
        if self.segmentation and res.segmentation_mask is not None:
            seg = np.clip(res.segmentation_mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Detection(kp, True, seg)

    def close(self) -> None:
        self._model.close()

    def __enter__(self) -> PoseTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _add_hands(kp: np.ndarray, res: Any, w: int, h: int) -> None:
    """Put the holistic model's hands after the body, each at the wrist it is nearest."""
    found = [r for r in (res.left_hand_landmarks, res.right_hand_landmarks) if r is not None]
    wrists = {7: BODY_JOINTS, 4: BODY_JOINTS + HAND_JOINTS}  # LWrist, RWrist -> slot
    for hand in found:
        pts = np.array([(p.x * w, p.y * h) for p in hand.landmark], np.float32)
        wrist = min(wrists, key=lambda j: float(np.hypot(*(kp[j, :2] - pts[0]))))
        slot = wrists.pop(wrist)
        kp[slot : slot + HAND_JOINTS, :2] = pts
        kp[slot : slot + HAND_JOINTS, 2] = max(float(kp[wrist, 2]), 1e-3)


class CrowdCheck:
    """Counts the people in a frame: MediaPipe selfie segmentation finds every person-like
    region; a region that does not touch the tracked person and is at least a quarter of
    their size counts as another person. (People touching the tracked one are not told
    apart; objects the selfie model mistakes for people are, when they stand apart.)"""

    def __init__(self) -> None:
        mp = load_mediapipe()
        self._model = QuietSolution(
            lambda: mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
        )

    def people(self, rgb: np.ndarray, det: Detection) -> int:
        """How many people ``rgb`` uint8 (H, W, 3) shows, given the tracker's ``det``."""
        h, w = rgb.shape[:2]
        everyone = self._model.process(np.ascontiguousarray(rgb)).segmentation_mask > 0.5
        own, area = _own_region(det, h, w)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(
            everyone.astype(np.uint8), connectivity=8
        )
        touching = np.bincount(labels[own], minlength=n) > 0
        big = stats[:, cv2.CC_STAT_AREA] >= max(0.25 * (area or 0.04 * h * w), 0.005 * h * w)
        others = big & ~touching
        others[0] = False  # the background label
        return int(det.found) + int(others.sum())

    def close(self) -> None:
        self._model.close()


def _own_region(det: Detection, h: int, w: int) -> tuple[np.ndarray, float]:
    """Where the tracked person is (their segmentation grown a little, or their keypoint
    box) and their area in pixels (0 when not found)."""
    region = np.zeros((h, w), bool)
    if not det.found:
        return region, 0.0
    if det.segmentation is not None:
        person = (det.segmentation > 127).astype(np.uint8)
        grow = max(3, round(0.03 * max(h, w))) | 1
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow))
        return cv2.dilate(person, kernel) > 0, float(person.sum())
    pts = det.keypoints[det.keypoints[:, 2] > 0, :2]
    if len(pts):
        lo, hi = pts.min(0), pts.max(0)
        pad = 0.2 * (hi - lo)
        x0, y0 = np.floor(np.maximum(lo - pad, 0)).astype(int)
        x1, y1 = np.ceil(np.minimum(hi + pad, (w, h))).astype(int)
        region[y0:y1, x0:x1] = True
    return region, 0.25 * float(region.sum())  # a person fills about half its box
