"""The cross-person half of the one-shot protocol (``ptx score`` on a one-shot run): one
held-out person's picture animated by another held-out person's motion.

- **Pairs** (:func:`cross_pairs`): ordered pairs (source person a, driving person b) of
  distinct held-out people, shuffled by ``numpy.random.default_rng(seed)``; the first
  ``n``. The same people and seed always give the same pairs, so two runs (two methods)
  are scored on the same pairs.
- For a pair, a's first frame is the source picture and b's frames 1.. drive it with b's
  IUV as it is (no retargeting: the output takes b's body shape and pose).
- **AKD / MKR** (``ptx.metrics.keypoints``): keypoints detected on the outputs (by
  default the project's detector, MediaPipe, on the outputs upscaled to 256 px, as
  ``ptx score`` does for person-specific runs) against the *driving* keypoints, b's
  stored ones, at the model's frame: does the output take the motion? (The same of the
  warp-only baseline: ``warp_akd``, ``warp_mkr``.)
- **Ground truth** (``same_motion``: a crowd whose people all perform the identical
  motion, ``ptx synth DIR --people N`` or ``store_crowd(..., motion_seed=...)``): a's own
  frames 1.. show a performing b's motion, so PSNR and L1 of the output (and of the
  warp-only baseline, a's picture warped by the coarse IUV grid into b's IUV) against
  them. The body shapes of a and b differ, so even a perfect renderer of b's IUV is not
  at 0 error: compare methods with each other and with the warp, not with 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.metrics.keypoints import keypoint_errors
from ptx.nn.arrays import resize_array
from ptx.perform.oneshot import model_keypoints, render_driven
from ptx.perform.render import LoadedModel

Detect = Callable[[np.ndarray], np.ndarray]
"""Keypoints of frames: uint8 (T, H, W, 3) -> float (T, 25, 3) (x, y pixels, confidence)."""


def mediapipe_keypoints(frames: np.ndarray) -> np.ndarray:
    """The project's detector (MediaPipe BODY_25) on frames upscaled to 256 px."""
    from ptx.perform.score import _detect_keypoints

    return _detect_keypoints(frames, 256)


def cross_pairs(people: list[str], n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` fixed random ordered pairs (source, driving) of distinct ``people``."""
    every = [(a, b) for a in people for b in people if a != b]
    order = np.random.default_rng(seed).permutation(len(every))
    return [every[i] for i in order[: max(0, n)]]


@dataclass
class PairScores:
    source: str
    driving: str
    frames: int
    akd: float | None
    mkr: float | None
    psnr: float | None = None
    l1: float | None = None
    warp_psnr: float | None = None
    warp_l1: float | None = None
    warp_akd: float | None = None
    warp_mkr: float | None = None

    def to_json(self) -> dict:
        return dict(self.__dict__)


def _psnr_l1(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean per-frame PSNR (dB, capped at 100) and L1 (0..1) of uint8 videos."""
    d = a.astype(np.float32) / 255 - b.astype(np.float32) / 255
    mse = np.maximum((d**2).reshape(len(d), -1).mean(1), 1e-10)
    return float(np.mean(10 * np.log10(1 / mse))), float(np.abs(d).mean())


def _video(ws: Workspace, person: str) -> VideoStore:
    return VideoStore(ws, ws.subject(person)["videos"][0])


def score_pair(
    model: LoadedModel, ws: Workspace, pair: tuple[str, str], detect: Detect, same_motion: bool
) -> PairScores:
    """One pair's scores (module docstring)."""
    src, drv = _video(ws, pair[0]), _video(ws, pair[1])
    r = render_driven(model, src, drv)
    n = len(r.output)
    truth_kp = model_keypoints(model, drv, 1, n + 1)
    kp = keypoint_errors(detect(r.output), truth_kp)
    warp_kp = keypoint_errors(detect(r.warped), truth_kp)
    out = PairScores(pair[0], pair[1], n, kp.akd, kp.mkr)
    out.warp_akd, out.warp_mkr = warp_kp.akd, warp_kp.mkr
    if same_motion:
        m = min(n, src.open_array("frames").shape[0] - 1)
        truth = resize_array("frames", src.read("frames", 1, m + 1), model.frame)
        truth = truth.permute(0, 2, 3, 1).numpy()
        out.psnr, out.l1 = _psnr_l1(r.output[:m], truth)
        out.warp_psnr, out.warp_l1 = _psnr_l1(r.warped[:m], truth)
    return out


def score_cross(
    model: LoadedModel,
    ws: Workspace,
    people: list[str],
    pairs: int = 4,
    seed: int = 0,
    detect: Detect | None = None,
    same_motion: bool = False,
) -> list[PairScores]:
    """The cross-person scores of ``pairs`` fixed random pairs of ``people``."""
    detect = detect or mediapipe_keypoints
    return [score_pair(model, ws, p, detect, same_motion) for p in cross_pairs(people, pairs, seed)]


def summarise(rows: list[PairScores]) -> dict[str, float | None]:
    """Means over the pairs (weighted by frames); None where no pair has the value."""
    out: dict[str, float | None] = {}
    for key in ("akd", "mkr", "psnr", "l1", "warp_psnr", "warp_l1", "warp_akd", "warp_mkr"):
        got = [(getattr(r, key), r.frames) for r in rows if getattr(r, key) is not None]
        total = sum(w for _, w in got)
        out[f"cross_{key}"] = sum(v * w for v, w in got) / total if total else None
    return out
