"""Stage ``crop``: one fixed square per video around the person's whole range of motion.

The square is the union of the keypoint boxes of all frames (every joint with confidence
above ``min_confidence``, clipped to the picture), grown by ``margin`` on each side, made
square around its centre, and moved inside the picture where it fits; where it does not
(a person crossing a wide picture) it is centred and the outside is padded with black. It
never exceeds the picture's long side. The source is decoded again at full resolution and
each frame is cut and resized to ``size`` x ``size`` (area averaging when shrinking, cubic
when enlarging): that is the canonical frame every later stage works in.

Outputs: ``frames`` uint8 (T, S, S, 3) and ``keypoints`` float32 (T, K, 3) in canonical
pixels (missing joints stay ``0, 0, 0``). The box is in the stage's metadata (source pixels:
``box_x0``, ``box_y0``, ``box_side``; ``size``); :func:`canonical_to_source` and
:func:`source_to_canonical` map points between the two frames.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ptx.errors import InputError, QualityError, StageError
from ptx.io.video import FrameDecoder, probe_video
from ptx.pipeline.stage import SOURCE, Stage, StageContext


@dataclass
class CropConfig:
    size: int = 512
    """Side of the canonical square frames, in pixels."""
    margin: float = 0.1
    """Space added on each side of the person's range of motion, as a fraction of its
    larger side."""
    min_confidence: float = 0.0
    """Joints above this confidence count towards the range of motion."""


@dataclass(frozen=True)
class CropBox:
    """A square of side ``side`` at ``(x0, y0)`` in source pixels, shown at ``size`` px."""

    x0: int
    y0: int
    side: int
    size: int

    @property
    def scale(self) -> float:
        """Canonical pixels per source pixel."""
        return self.size / self.side

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> CropBox:
        """The box the ``crop`` stage recorded (``store.meta("crop")``)."""
        return cls(int(meta["box_x0"]), int(meta["box_y0"]), int(meta["box_side"]), meta["size"])

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        """Source-pixel points float (..., 2 or 3) -> canonical pixels (float64); a third
        column (confidence) is kept, and rows whose confidence is 0 stay all zero."""
        return _map(points, lambda xy: (xy - (self.x0, self.y0)) * (self.size / self.side))

    def to_source(self, points: np.ndarray) -> np.ndarray:
        """Canonical-pixel points float (..., 2 or 3) -> source pixels (float64); the
        inverse of :meth:`to_canonical`."""
        return _map(points, lambda xy: xy * (self.side / self.size) + (self.x0, self.y0))


def _map(points: np.ndarray, fn: Any) -> np.ndarray:
    p = np.array(points, dtype=np.float64)
    p[..., :2] = fn(p[..., :2])
    if p.shape[-1] >= 3:
        p[p[..., 2] <= 0] = 0.0
    return p


def canonical_to_source(points: np.ndarray, crop_meta: dict[str, Any]) -> np.ndarray:
    """Map canonical-frame points float (..., 2|3) back to source-video pixels."""
    return CropBox.from_meta(crop_meta).to_source(points)


def source_to_canonical(points: np.ndarray, crop_meta: dict[str, Any]) -> np.ndarray:
    """Map source-video points float (..., 2|3) into the canonical frame."""
    return CropBox.from_meta(crop_meta).to_canonical(points)


def _place(centre: float, side: int, extent: int) -> int:
    """Left (or top) edge of a ``side`` span around ``centre`` inside ``[0, extent]``."""
    if side >= extent:
        return math.floor((extent - side) / 2)
    return min(max(math.floor(centre - side / 2), 0), extent - side)


def choose_box(
    keypoints: np.ndarray,
    width: int,
    height: int,
    size: int,
    margin: float = 0.1,
    min_confidence: float = 0.0,
) -> CropBox:
    """The crop square (module docstring) for ``keypoints`` float (T, K, 3) in the source
    pixels of a ``width`` x ``height`` video."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    pts = kp[kp[:, 2] > min_confidence, :2]
    if not len(pts):
        raise QualityError("No keypoints to place the crop around.", "Check the keypoints stage.")
    pts = np.clip(pts, 0.0, (width, height))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    extent = float(np.max(hi - lo))
    side = min(max(width, height), max(8, math.ceil(extent * (1.0 + 2.0 * margin)) + 2))
    cx, cy = (lo + hi) / 2.0
    return CropBox(_place(cx, side, width), _place(cy, side, height), side, size)


def crop_frame(frame: np.ndarray, box: CropBox) -> np.ndarray:
    """Cut ``box`` out of ``frame`` uint8 (H, W, 3) (black outside it) and resize it:
    uint8 (S, S, 3)."""
    h, w = frame.shape[:2]
    x1, y1 = box.x0 + box.side, box.y0 + box.side
    ix0, iy0, ix1, iy1 = max(box.x0, 0), max(box.y0, 0), min(x1, w), min(y1, h)
    region = frame[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) != (box.x0, box.y0, x1, y1):
        region = cv2.copyMakeBorder(
            region, iy0 - box.y0, y1 - iy1, ix0 - box.x0, x1 - ix1, cv2.BORDER_CONSTANT, value=0
        )
    if box.side == box.size:
        return np.ascontiguousarray(region)
    interp = cv2.INTER_AREA if box.side > box.size else cv2.INTER_CUBIC
    return cv2.resize(region, (box.size, box.size), interpolation=interp)


class CropStage(Stage):
    name = "crop"
    version = 1
    Config = CropConfig
    inputs = (SOURCE, "keypoints_analysis")
    outputs = ("frames", "keypoints")

    @classmethod
    def check(cls, config: CropConfig) -> None:
        if not 16 <= config.size <= 4096:
            raise InputError(f"--size {config.size} is out of range.", "Use 16 to 4096 pixels.")
        if config.margin < 0:
            raise InputError(f"crop.margin={config.margin} is negative.", "Use 0 or more.")

    def run(self, ctx: StageContext) -> None:
        cfg: CropConfig = ctx.config
        if ctx.source is None:
            raise InputError("The source video of this store is no longer at any known path.")
        ext = ctx.store.meta("extract")
        src_w, src_h = int(ext["source_width"]), int(ext["source_height"])
        analysis = ctx.read("keypoints_analysis")
        to_source = np.array([src_w / ext["width"], src_h / ext["height"]])
        kp_src = analysis.astype(np.float64)
        kp_src[..., :2] *= to_source
        box = choose_box(kp_src, src_w, src_h, cfg.size, cfg.margin, cfg.min_confidence)
        t_count, k = analysis.shape[:2]
        ctx.create_array("frames", (t_count, cfg.size, cfg.size, 3), np.uint8)
        ctx.create_array("keypoints", (t_count, k, 3), np.float32)
        ctx.store.write("keypoints", 0, box.to_canonical(kp_src).astype(np.float32))
        corners = box.to_canonical(np.array([[0.0, 0.0], [src_w, src_h]]))
        content = np.clip(corners, 0, cfg.size).reshape(-1)
        ctx.set_meta(
            box_x0=box.x0,
            box_y0=box.y0,
            box_side=box.side,
            size=cfg.size,
            scale=box.scale,
            source_width=src_w,
            source_height=src_h,
            content_box=[round(float(v), 3) for v in content],
        )
        todo = ctx.pending(-(-t_count // ctx.chunk_frames), total_frames=t_count)
        if todo:
            info = probe_video(ctx.source)
            decoder = FrameDecoder(info, float(ext["fps"]), float(ext["start"]))
            _crop_chunks(ctx, decoder, box, todo, t_count)


def _crop_chunks(
    ctx: StageContext, decoder: FrameDecoder, box: CropBox, todo: list[int], t_count: int
) -> None:
    """Decode from the first pending chunk on; crop, write and commit each pending chunk
    (writes overlap decoding in a background thread)."""
    chunk = ctx.chunk_frames
    pending = set(todo)
    first = todo[0] * chunk
    buf = np.empty((chunk, box.size, box.size, 3), np.uint8)
    index = first

    def flush(c: int, data: np.ndarray) -> None:
        ctx.store.write("frames", c * chunk, data)
        ctx.commit(c, frames=len(data))

    in_flight: list[Future] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptx-store") as pool:
        for img in decoder.frames(first, t_count - first):
            c = index // chunk
            if c in pending:
                buf[index % chunk] = crop_frame(img, box)
            index += 1
            if (index % chunk == 0 or index == t_count) and c in pending:
                in_flight.append(pool.submit(flush, c, buf[: index - c * chunk].copy()))
                while len(in_flight) > 1:
                    in_flight.pop(0).result()
        for f in in_flight:
            f.result()
    if index < t_count:
        raise StageError(
            f"The source video gave {index} frames where extract found {t_count}.",
            "Has the file changed? Run `ptx prepare` again with --force extract.",
        )
