"""Stage ``crop``: one fixed rectangle per video around the person's whole range of motion.

The canonical frame is ``(H, W)`` pixels. By default (``aspect = auto``) it has the clip's
own aspect: ``size`` on its long side, the short side a multiple of ``multiple`` (32, the
largest downsampling factor of any method), so ``--size 512`` on a 1080x1920 portrait clip
gives 512 x 288 (H x W). When the aspect falls between two multiples (9:16 at ``--size
256``: 144 between 128 and 160), the crop tries both and keeps the one that leaves less
padding (the nearer on a tie). ``aspect = square`` gives the ``size`` x ``size`` square of
earlier versions, and ``aspect = W:H`` any other shape.

The rectangle in the source is the union of the keypoint boxes of all frames (every joint
with confidence above ``min_confidence``, clipped to the picture), grown by ``margin`` of
its extent on each side, then widened or heightened to the frame's aspect around its
centre and moved inside the picture where it fits. Its sides are whole multiples of the
frame's (W, H) / gcd(W, H), so that source and canonical pixels scale by one factor in x
and y. When it does not fit:

- non-square frames: when the range of motion itself fits in the largest rectangle of the
  frame's aspect inside the picture, that rectangle is used (the margin shrinks, nothing is
  padded). So is it when that rectangle is all of the picture but for the rounding of the
  aspect (less than one step of (W, H) / gcd(W, H) source pixels, e.g. 2 px of a 692 px
  wide clip): a motion that spans the whole picture loses that sliver at the picture's
  edge rather than gaining black bars. Otherwise the rectangle grows as far as the range
  of motion needs, never beyond covering the whole picture, centred, and the outside is
  padded with black;
- square frames (``aspect = square``, or a square clip): as before, the square grows as
  far as the range of motion needs, up to the picture's long side, centred, padded.

The source is decoded again at full resolution and each frame is cut and resized to
``W`` x ``H`` (area averaging when shrinking, cubic when enlarging): that is the canonical
frame every later stage works in. A square clip gives exactly the arrays of the square-only
crop (version 1).

Outputs: ``frames`` uint8 (T, H, W, 3) and ``keypoints`` float32 (T, K, 3) in canonical
pixels (missing joints stay ``0, 0, 0``). The rectangle is in the stage's metadata (source
pixels: ``box_x0``, ``box_y0``, ``box_width``, ``box_height``, and ``box_side`` = its long
side; canonical: ``width``, ``height``, ``size`` = the long side; ``scale``), with the part
of the frame that shows the picture (``content_box``: x0, y0, x1, y1 in canonical pixels)
and the share of padding (``padded_fraction``). :func:`canonical_to_source` and
:func:`source_to_canonical` map points between the two frames.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ptx.cache.frame import CanonicalFrame, frame_shape
from ptx.errors import InputError, QualityError, StageError
from ptx.io.video import FrameDecoder, probe_video
from ptx.pipeline.stage import SOURCE, Stage, StageContext


@dataclass
class CropConfig:
    size: int = 512
    """Long side of the canonical frames, in pixels."""
    aspect: str = "auto"
    """Shape of the canonical frames: ``auto`` (the clip's own aspect), ``square``, or
    ``W:H`` (e.g. ``9:16``)."""
    multiple: int = 32
    """Both sides of a non-square frame are multiples of this (the largest downsampling
    factor of any method)."""
    margin: float = 0.1
    """Space added on each side of the person's range of motion, as a fraction of its
    extent along that side."""
    min_confidence: float = 0.0
    """Joints above this confidence count towards the range of motion."""


def parse_aspect(aspect: str) -> tuple[int, int] | None:
    """``W:H`` -> (H, W); ``auto`` -> None (the clip's); ``square`` -> (1, 1)."""
    text = str(aspect).strip().lower()
    if text == "auto":
        return None
    if text == "square":
        return 1, 1
    try:
        w, h = (int(v) for v in text.split(":"))
    except ValueError:
        w = h = 0
    if w <= 0 or h <= 0:
        raise InputError(
            f"--aspect {aspect!r} is not understood.", "Use auto, square or W:H (e.g. 9:16)."
        )
    return h, w


def canonical_shape(cfg: CropConfig, source_width: int, source_height: int) -> tuple[int, int]:
    """(H, W) of the canonical frames of a ``source_width`` x ``source_height`` clip whose
    aspect falls on a multiple (else the nearest of :func:`candidate_shapes`)."""
    return candidate_shapes(cfg, source_width, source_height)[0]


def candidate_shapes(
    cfg: CropConfig, source_width: int, source_height: int
) -> list[tuple[int, int]]:
    """The canonical (H, W) to choose from: the one whose short side is the nearest
    multiple of ``cfg.multiple`` to the aspect's, then, when the aspect falls between two
    multiples, the other one (the crop keeps whichever pads less)."""
    aspect = parse_aspect(cfg.aspect) or (source_height, source_width)
    h, w = frame_shape(aspect, cfg.size, cfg.multiple)
    if h == w and aspect[0] == aspect[1]:
        return [(h, w)]
    if cfg.size % cfg.multiple:
        raise InputError(
            f"--size {cfg.size} is not a multiple of {cfg.multiple}, which a frame of "
            f"{aspect[1]}:{aspect[0]} needs on both sides.",
            f"Use --size {max(cfg.multiple, cfg.size // cfg.multiple * cfg.multiple)}, or "
            "--aspect square.",
        )
    exact = cfg.size * min(aspect) / max(aspect) / cfg.multiple
    lo = max(1, math.floor(exact)) * cfg.multiple
    hi = min(cfg.size, math.ceil(exact) * cfg.multiple)
    short = min(h, w)
    other = hi if short == lo else lo
    shapes = [(h, w)]
    if other != short:
        shapes.append((cfg.size, other) if aspect[0] > aspect[1] else (other, cfg.size))
    return shapes


@dataclass(frozen=True)
class CropBox:
    """A ``width`` x ``height`` rectangle at ``(x0, y0)`` in source pixels, shown as an
    ``out_width`` x ``out_height`` frame (one scale in x and y)."""

    x0: int
    y0: int
    width: int
    height: int
    out_width: int
    out_height: int

    @classmethod
    def square(cls, x0: int, y0: int, side: int, size: int) -> CropBox:
        """A ``side`` square shown at ``size`` x ``size``."""
        return cls(x0, y0, side, side, size, size)

    @property
    def side(self) -> int:
        """The rectangle's long side in source pixels."""
        return max(self.width, self.height)

    @property
    def size(self) -> int:
        """The frame's long side in canonical pixels."""
        return max(self.out_width, self.out_height)

    @property
    def shape(self) -> tuple[int, int]:
        """The canonical frame's (H, W)."""
        return self.out_height, self.out_width

    @property
    def scale(self) -> float:
        """Canonical pixels per source pixel."""
        return self.size / self.side

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> CropBox:
        """The box the ``crop`` stage recorded (``store.meta("crop")``); records from before
        rectangular frames hold a square (``box_side``, ``size``)."""
        x0, y0 = int(meta["box_x0"]), int(meta["box_y0"])
        if "box_width" not in meta:
            return cls.square(x0, y0, int(meta["box_side"]), int(meta["size"]))
        return cls(
            x0, y0, int(meta["box_width"]), int(meta["box_height"]),
            int(meta["width"]), int(meta["height"]),
        )  # fmt: skip

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        """Source-pixel points float (..., 2 or 3) -> canonical pixels (float64); a third
        column (confidence) is kept, and rows whose confidence is 0 stay all zero."""
        return _map(points, lambda xy: (xy - (self.x0, self.y0)) * (self.size / self.side))

    def to_source(self, points: np.ndarray) -> np.ndarray:
        """Canonical-pixel points float (..., 2 or 3) -> source pixels (float64); the
        inverse of :meth:`to_canonical`."""
        return _map(points, lambda xy: xy * (self.side / self.size) + (self.x0, self.y0))

    def content(self, source_width: int, source_height: int) -> CanonicalFrame:
        """The canonical frame with the part of it that shows the source picture."""
        corners = self.to_canonical(np.array([[0.0, 0.0], [source_width, source_height]]))
        x0, y0 = np.clip(corners[0], 0, (self.out_width, self.out_height))
        x1, y1 = np.clip(corners[1], 0, (self.out_width, self.out_height))
        box = tuple(round(float(v), 3) for v in (x0, y0, x1, y1))
        return CanonicalFrame(self.out_height, self.out_width, box)  # type: ignore[arg-type]


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
    size: int | tuple[int, int],
    margin: float = 0.1,
    min_confidence: float = 0.0,
) -> CropBox:
    """The crop rectangle (module docstring) for ``keypoints`` float (T, K, 3) in the source
    pixels of a ``width`` x ``height`` video, shown at ``size``: the side of a square frame,
    or the frame's (H, W)."""
    out_h, out_w = (size, size) if isinstance(size, (int, np.integer)) else size
    kp = np.asarray(keypoints, dtype=np.float64).reshape(-1, 3)
    pts = kp[kp[:, 2] > min_confidence, :2]
    if not len(pts):
        raise QualityError("No keypoints to place the crop around.", "Check the keypoints stage.")
    pts = np.clip(pts, 0.0, (width, height))
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    ext = hi - lo
    cx, cy = (lo + hi) / 2.0
    g = math.gcd(out_w, out_h)
    uw, uh = out_w // g, out_h // g  # the rectangle is k * (uw, uh) source pixels
    need = [math.ceil(e * (1.0 + 2.0 * margin)) + 2 for e in ext]  # with the margin
    k = max(-(-need[0] // uw), -(-need[1] // uh), -(-8 // min(uw, uh)))
    cover = max(-(-width // uw), -(-height // uh))  # the smallest covering the picture
    if uw != uh:
        fit = min(width // uw, height // uh)  # the largest inside the picture
        bare = max(-(-math.ceil(ext[0]) // uw), -(-math.ceil(ext[1]) // uh))
        if k > fit and (bare <= fit or cover - fit <= 1):
            k = fit
    k = max(1, min(k, cover))
    bw, bh = k * uw, k * uh
    return CropBox(_place(cx, bw, width), _place(cy, bh, height), bw, bh, out_w, out_h)


def choose_frame(keypoints: np.ndarray, width: int, height: int, cfg: CropConfig) -> CropBox:
    """The crop rectangle and canonical shape for ``keypoints`` float (T, K, 3) in the source
    pixels of a ``width`` x ``height`` video: of the :func:`candidate_shapes`, the one whose
    rectangle leaves the least padding (the nearest aspect on a tie)."""
    boxes = [
        choose_box(keypoints, width, height, shape, cfg.margin, cfg.min_confidence)
        for shape in candidate_shapes(cfg, width, height)
    ]
    pads = [round(b.content(width, height).padded_fraction, 9) for b in boxes]
    return boxes[pads.index(min(pads))]


def crop_frame(frame: np.ndarray, box: CropBox) -> np.ndarray:
    """Cut ``box`` out of ``frame`` uint8 (h, w, 3) (black outside it) and resize it:
    uint8 (H, W, 3) of the canonical frame."""
    h, w = frame.shape[:2]
    x1, y1 = box.x0 + box.width, box.y0 + box.height
    ix0, iy0, ix1, iy1 = max(box.x0, 0), max(box.y0, 0), min(x1, w), min(y1, h)
    region = frame[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) != (box.x0, box.y0, x1, y1):
        region = cv2.copyMakeBorder(
            region, iy0 - box.y0, y1 - iy1, ix0 - box.x0, x1 - ix1, cv2.BORDER_CONSTANT, value=0
        )
    if (box.width, box.height) == (box.out_width, box.out_height):
        return np.ascontiguousarray(region)
    interp = cv2.INTER_AREA if box.side > box.size else cv2.INTER_CUBIC
    return cv2.resize(region, (box.out_width, box.out_height), interpolation=interp)


class CropStage(Stage):
    name = "crop"
    version = 3
    """3: a box inside an upright picture is cut, scaled and converted to RGB by FFmpeg in
    one pass (``FrameDecoder.region``; 4.7 ms a 1080p frame less, other rounding)."""
    Config = CropConfig
    inputs = (SOURCE, "keypoints_analysis")
    outputs = ("frames", "keypoints")

    @classmethod
    def check(cls, config: CropConfig) -> None:
        if not 16 <= config.size <= 4096:
            raise InputError(f"--size {config.size} is out of range.", "Use 16 to 4096 pixels.")
        if config.margin < 0:
            raise InputError(f"crop.margin={config.margin} is negative.", "Use 0 or more.")
        if not 1 <= config.multiple <= config.size:
            raise InputError(
                f"crop.multiple={config.multiple} must be between 1 and --size {config.size}."
            )
        aspect = parse_aspect(config.aspect)
        if aspect is not None:
            candidate_shapes(config, aspect[1], aspect[0])

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
        box = choose_frame(kp_src, src_w, src_h, cfg)
        shape = box.shape
        t_count, k = analysis.shape[:2]
        # LZ4: ~4x cheaper to write than Zstd (1.75 -> 0.45 ms a 512 x 288 frame) and 7x
        # to read (0.87 -> 0.12 ms; mask, flow, background and training all read the
        # frames), files ~1.5x larger (ratio 0.34 against 0.23 on a real clip)
        ctx.create_array("frames", (t_count, *shape, 3), np.uint8, codec="lz4")
        ctx.create_array("keypoints", (t_count, k, 3), np.float32)
        ctx.store.write("keypoints", 0, box.to_canonical(kp_src).astype(np.float32))
        frame = box.content(src_w, src_h)
        ctx.store.mark_schema()
        ctx.set_meta(
            box_x0=box.x0,
            box_y0=box.y0,
            box_width=box.width,
            box_height=box.height,
            box_side=box.side,
            width=box.out_width,
            height=box.out_height,
            size=box.size,
            scale=box.scale,
            source_width=src_w,
            source_height=src_h,
            content_box=list(frame.content),
            padded_fraction=round(frame.padded_fraction, 5),
        )
        todo = ctx.pending(-(-t_count // ctx.chunk_frames), total_frames=t_count)
        if todo:
            info = probe_video(ctx.source)
            fps, start = float(ext["fps"]), float(ext["start"])
            region, out = (box.x0, box.y0, box.width, box.height), box.shape[::-1]
            try:  # cut and scaled by FFmpeg in one pass
                decoder = FrameDecoder(info, fps, start, size=out, region=region)
            except ValueError:  # outside the picture, or turned: each frame cropped on the
                # thread that converts it (cv2 runs outside the GIL)
                decoder = FrameDecoder(info, fps, start, transform=lambda img: crop_frame(img, box))
            _crop_chunks(ctx, decoder, box, todo, t_count)


def _crop_chunks(
    ctx: StageContext, decoder: FrameDecoder, box: CropBox, todo: list[int], t_count: int
) -> None:
    """Decode from the first pending chunk on; crop, write and commit each pending chunk
    (writes overlap decoding in a background thread)."""
    chunk = ctx.chunk_frames
    pending = set(todo)
    first = todo[0] * chunk
    buf = np.empty((chunk, *box.shape, 3), np.uint8)
    index = first

    def flush(c: int, data: np.ndarray) -> None:
        ctx.store.write("frames", c * chunk, data)
        ctx.commit(c, frames=len(data))

    in_flight: list[Future] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptx-store") as pool:
        for img in decoder.frames(first, t_count - first):
            c = index // chunk
            if c in pending:
                buf[index % chunk] = img  # (cropped by the decoder)
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
