"""Stage ``mask``: the person's probability in every canonical frame, uint8 (T, H, W) x 255.

Where the mask comes from (``method``):

- ``pose`` (what ``auto`` picks when the keypoints stage ran MediaPipe): the pose model's
  own segmentation, kept by the keypoints stage at analysis resolution and warped here
  into the canonical frame with the crop's transform. It follows only the tracked person
  and, on real dance clips, was tighter than selfie segmentation (which cut off open
  hands). Warping costs nothing: the pose model works on a 256 x 256 crop of the person,
  so the analysis-resolution mask already holds all it knows.
- ``selfie`` (what ``auto`` picks for imported keypoints, which come without
  segmentation): MediaPipe selfie segmentation on the canonical frame, keeping only the
  regions that touch the person's skeleton (other people and person-like objects go).
- ``skeleton``: a rough silhouette drawn from the keypoints alone (limb capsules, torso,
  head), softened. Also the fallback, frame by frame, wherever the chosen source finds
  less than ``min_coverage`` of that silhouette (the person not segmented in that frame,
  or a frame whose keypoints were filled in).

Refinement: the mask is upsampled to the canonical resolution (a 1080p person ends up
~1.5x larger than in the analysis frame), so its edges are soft and blocky. A guided
filter (He et al., ECCV 2010) with the canonical frame's luminance as the guide moves
them onto the image's edges, and a contrast stretch around 0.5 (``refine_gain``) narrows
the soft band that is left. On a synthetic shape whose mask was made at 1/4 and 1/8 of the
resolution and upsampled, this cut the mean absolute error 5-50x (the guided filter alone
moves the 50% contour onto the edge but keeps the edge soft). Pixels outside the source
picture (crop padding) are 0.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ptx.body.skeleton import skeleton_region
from ptx.cache.frame import frame_from_meta
from ptx.devices import usable_cores
from ptx.errors import InputError
from ptx.pipeline.crop import CropBox
from ptx.pipeline.stage import LOAD_MEDIAPIPE, Stage, StageContext

METHODS = ("auto", "pose", "selfie", "skeleton")


@dataclass
class MaskConfig:
    method: str = "auto"
    """``auto``, ``pose``, ``selfie`` or ``skeleton`` (see the module docstring)."""
    refine: bool = True
    """Pull the mask's edges onto the image's edges with a guided filter."""
    refine_radius: int = 0
    """Guided-filter radius in canonical pixels (0: size / 128, 4 px at 512)."""
    refine_eps: float = 1e-3
    """Guided-filter regularisation (luminance in 0..1, squared); larger follows the
    image's edges less."""
    refine_gain: float = 2.0
    """Contrast stretch of the refined probability around 0.5 (1: none)."""
    min_coverage: float = 0.3
    """Use the skeleton silhouette in a frame where the chosen source covers less than
    this fraction of it."""


def analysis_to_canonical(extract: dict[str, Any], crop: dict[str, Any]) -> np.ndarray:
    """The 2 x 3 cv2 affine matrix taking analysis-frame pixel indices to canonical ones."""
    k = CropBox.from_meta(crop).scale
    ax = extract["source_width"] / extract["width"] * k
    ay = extract["source_height"] / extract["height"] * k
    bx, by = -crop["box_x0"] * k, -crop["box_y0"] * k
    # ptx coordinates put pixel centres at i + 0.5, cv2 at i.
    return np.array([[ax, 0.0, 0.5 * ax + bx - 0.5], [0.0, ay, 0.5 * ay + by - 0.5]])


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter: ``src`` float32 (H, W) smoothed so that its edges follow
    ``guide`` float32 (H, W); returns float32 (H, W). Each mean is its own box filter over
    a contiguous plane: the same values as filtering the planes stacked, and the arithmetic
    after it runs on contiguous arrays (4.4 against 6.4-8.7 ms a 512 x 288 frame)."""
    k = (2 * radius + 1, 2 * radius + 1)
    g, p = guide.astype(np.float32), src.astype(np.float32)

    def mean(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    m_g, m_p = mean(g), mean(p)
    a = (mean(g * p) - m_g * m_p) / (mean(g * g) - m_g * m_g + eps)
    b = m_p - a * m_g
    return mean(a) * g + mean(b)


def refine_mask(
    prob: np.ndarray, frame: np.ndarray, radius: int, eps: float = 1e-3, gain: float = 2.0
) -> np.ndarray:
    """Refine ``prob`` float32 (H, W) in 0..1 along the edges of ``frame`` uint8 (H, W, 3)
    (module docstring); returns float32 (H, W) in 0..1."""
    luma = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32) / np.float32(255)
    out = guided_filter(luma, prob, radius, eps)
    return np.clip((out - 0.5) * gain + 0.5, 0.0, 1.0)


def _content(crop: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """bool (H, W): canonical pixels that show the source picture (not padding)."""
    return frame_from_meta(crop, shape).picture_mask()


def _soft(region: np.ndarray, size: int) -> np.ndarray:
    """``region`` blurred by a Gaussian of 1/200 of the frame's long side ``size``."""
    sigma = max(1.0, size / 200.0)
    return cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigma)


class _Selfie:
    """Selfie segmentation restricted to the regions that touch the person's skeleton."""

    def __init__(self) -> None:
        from ptx.pipeline.mediapipe_pose import QuietSolution, load_mediapipe

        mp = load_mediapipe()
        self._model = QuietSolution(
            lambda: mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        )

    def __call__(self, frame: np.ndarray, skeleton: np.ndarray) -> np.ndarray:
        prob = self._model.process(np.ascontiguousarray(frame)).segmentation_mask
        _, labels = cv2.connectedComponents((prob > 0.5).astype(np.uint8), connectivity=8)
        touching = np.unique(labels[skeleton & (labels > 0)])
        keep = np.isin(labels, touching) if len(touching) else np.zeros_like(skeleton)
        grow = cv2.dilate(keep.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        return np.where(grow, prob, 0.0).astype(np.float32)

    def close(self) -> None:
        self._model.close()


class MaskStage(Stage):
    name = "mask"
    version = 1
    Config = MaskConfig
    inputs = ("frames", "keypoints", "segmentation_analysis")
    outputs = ("mask",)

    @classmethod
    def check(cls, config: MaskConfig) -> None:
        if config.method not in METHODS:
            raise InputError(
                f"mask.method={config.method!r} is unknown.",
                f"Use one of: {', '.join(METHODS)}.",
            )

    @classmethod
    def preload(cls, config: MaskConfig) -> tuple[str, ...]:
        return (LOAD_MEDIAPIPE,) if config.method == "selfie" else ()

    def run(self, ctx: StageContext) -> None:
        cfg: MaskConfig = ctx.config
        has_seg = bool(ctx.store.meta("keypoints").get("segmentation"))
        method = ("pose" if has_seg else "selfie") if cfg.method == "auto" else cfg.method
        if method == "pose" and not has_seg:
            raise InputError(
                "mask.method=pose needs the pose model's segmentation, which the keypoints "
                "stage did not keep (imported keypoints, or keypoints.segmentation=false).",
                "Use mask.method=auto, selfie or skeleton.",
            )
        crop = ctx.store.meta("crop")
        t_count, h, w = (int(v) for v in ctx.store.open_array("frames").shape[:3])
        size = max(h, w)
        ctx.create_array("mask", (t_count, h, w), np.uint8)
        chunk = ctx.chunk_frames
        todo = ctx.pending(-(-t_count // chunk), total_frames=t_count)
        warp = analysis_to_canonical(ctx.store.meta("extract"), crop)
        inside = _content(crop, (h, w))
        radius = cfg.refine_radius or max(1, round(size / 128))
        selfie = _Selfie() if method == "selfie" and todo else None
        fallbacks = int(ctx.record.meta.get("fallback_frames", 0)) if ctx.record.chunks_done else 0

        def load(c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            a, b = c * chunk, min(t_count, (c + 1) * chunk)
            segs = ctx.read("segmentation_analysis", a, b) if method == "pose" else None
            return ctx.read("frames", a, b), ctx.read("keypoints", a, b), segs

        def one(frame: np.ndarray, kp: np.ndarray, seg: np.ndarray | None, out: np.ndarray):
            prob, fell_back = _frame_mask(method, frame, kp, seg, warp, selfie, cfg.min_coverage)
            if cfg.refine:
                prob = refine_mask(prob, frame, radius, cfg.refine_eps, cfg.refine_gain)
            prob[~inside] = 0.0
            out[...] = np.rint(prob * 255.0).astype(np.uint8)
            return fell_back

        def store(c: int, out: np.ndarray, fallbacks: int) -> None:
            ctx.store.write("mask", c * chunk, out)
            ctx.set_meta(method=method, fallback_frames=fallbacks)
            ctx.commit(c, frames=len(out))

        # frames masked two at a time (each alone, so the masks are the same for any number;
        # OpenCV runs outside the GIL; the selfie model one at a time); the next chunk is
        # read and the last one written on a thread of their own, overlapping the work
        n_workers = 1 if selfie is not None else min(2, usable_cores())
        work = ThreadPoolExecutor(n_workers, thread_name_prefix="ptx-mask")
        io = ThreadPoolExecutor(1, thread_name_prefix="ptx-store")
        written: Future | None = None
        try:
            upcoming = io.submit(load, todo[0]) if todo else None
            for j, c in enumerate(todo):
                frames, kps, segs = upcoming.result()  # type: ignore[union-attr]
                if j + 1 < len(todo):
                    upcoming = io.submit(load, todo[j + 1])
                out = np.empty((len(frames), h, w), np.uint8)
                segs_ = [None] * len(frames) if segs is None else list(segs)
                fallbacks += sum(work.map(one, frames, kps, segs_, out))
                if written is not None:
                    written.result()
                written = io.submit(store, c, out, fallbacks)
            if written is not None:
                written.result()
        finally:
            work.shutdown(cancel_futures=True)
            io.shutdown(cancel_futures=True)
            if selfie is not None:
                selfie.close()
        ctx.set_meta(method=method, fallback_frames=fallbacks)


def _frame_mask(
    method: str,
    frame: np.ndarray,
    keypoints: np.ndarray,
    seg: np.ndarray | None,
    warp: np.ndarray,
    selfie: Any,
    min_coverage: float = 0.3,
) -> tuple[np.ndarray, bool]:
    """One frame's person probability float32 (H, W) before refinement, and whether it fell
    back to the skeleton silhouette."""
    h, w = frame.shape[:2]
    size = max(h, w)
    skeleton = skeleton_region(keypoints, (h, w))
    if method == "skeleton":
        return _soft(skeleton, size), False
    if method == "pose":
        prob = cv2.warpAffine(seg, warp, (w, h), flags=cv2.INTER_LINEAR) / np.float32(255)
    else:
        prob = selfie(frame, skeleton)
    need = skeleton.sum()
    if need and (prob[skeleton] > 0.5).sum() < min_coverage * need:
        return _soft(skeleton, size), True
    return prob.astype(np.float32), False
