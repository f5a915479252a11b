"""The canonical frame of a prepared video, and frame sizes derived from it.

A prepared video's canonical frame is ``(H, W)`` pixels (the ``crop`` stage's rectangle
around the person's range of motion, ``--size`` on its long side). Where that rectangle
leaves the source picture, the frame is padded with black; the crop records which part of
the frame shows the picture (``content_box``: x0, y0, x1, y1 in canonical pixels), so that
metrics can leave the padding out.

A model sees the canonical frame at its own size: :func:`frame_shape` keeps the aspect,
puts the model's ``size`` on the long side and rounds the short side to a multiple of what
the model's downsamplings need. A square frame stays exactly square.

Stores written before frames followed the person (schema 1) have square frames and may
lack the newer metadata; :func:`canonical_frame` reads them as square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ptx.errors import StageError

Shape = tuple[int, int]
"""A frame size as (height, width) in pixels."""


def round_to(value: float, multiple: int) -> int:
    """``value`` rounded to the nearest multiple of ``multiple`` (halves up), at least one
    multiple."""
    return max(multiple, math.floor(value / multiple + 0.5) * multiple)


def frame_shape(aspect: Shape, long_side: int, multiple: int = 1) -> Shape:
    """(H, W) with the aspect of ``aspect`` (H, W), ``long_side`` on its long side and the
    short side rounded to a multiple of ``multiple``. A square ``aspect`` gives exactly
    ``(long_side, long_side)``; the long side is never changed (the caller keeps it a
    multiple when it must be one)."""
    h, w = int(aspect[0]), int(aspect[1])
    if h <= 0 or w <= 0:
        raise ValueError(f"frame_shape: bad aspect {aspect}")
    if h == w:
        return long_side, long_side
    short = min(long_side, round_to(long_side * min(h, w) / max(h, w), multiple))
    return (long_side, short) if h > w else (short, long_side)


ASPECT_TOLERANCE = 0.1
"""Largest relative difference of width / height between frames taken to share an aspect
(a subject's videos; a run and the frames it renders)."""


def same_aspect(a: Shape, b: Shape, tolerance: float = ASPECT_TOLERANCE) -> bool:
    """Whether frames ``a`` and ``b`` (H, W) have the same aspect within ``tolerance``."""
    return abs((a[1] / a[0]) / (b[1] / b[0]) - 1.0) <= tolerance


def as_shape(size: int | Shape) -> Shape:
    """``size`` (one side of a square, or (H, W)) as (H, W)."""
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


@dataclass(frozen=True)
class CanonicalFrame:
    """Where a prepared video's frames come from: their size and the picture in them."""

    height: int
    width: int
    content: tuple[float, float, float, float]
    """x0, y0, x1, y1 in canonical pixels: the part of the frame that shows the source
    picture (the rest is padding)."""

    @property
    def shape(self) -> Shape:
        return self.height, self.width

    @property
    def padded_fraction(self) -> float:
        """Share of the frame's pixels that are padding (0 when the picture fills it)."""
        x0, y0, x1, y1 = self.content
        inside = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        return max(0.0, 1.0 - inside / float(self.height * self.width))

    def picture_box(self, shape: Shape | None = None) -> tuple[int, int, int, int]:
        """The picture as whole pixels (x0, y0, x1, y1) of a frame of ``shape`` (default:
        the canonical one), the content box scaled to it and rounded to the nearest pixel
        edge."""
        h, w = shape or self.shape
        sx, sy = w / self.width, h / self.height
        x0, y0, x1, y1 = self.content
        box = (round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy))
        x0i, y0i = min(max(box[0], 0), w), min(max(box[1], 0), h)
        return x0i, y0i, max(x0i, min(box[2], w)), max(y0i, min(box[3], h))

    def padded(self, shape: Shape | None = None) -> bool:
        """Whether a frame of ``shape`` has any padding pixel."""
        h, w = shape or self.shape
        return self.picture_box((h, w)) != (0, 0, w, h)

    def picture_mask(self, shape: Shape | None = None) -> np.ndarray:
        """bool (H, W): pixels of a frame of ``shape`` that show the picture."""
        h, w = shape or self.shape
        x0, y0, x1, y1 = self.picture_box((h, w))
        inside = np.zeros((h, w), bool)
        inside[y0:y1, x0:x1] = True
        return inside


def frame_from_meta(meta: dict[str, Any], shape: Shape) -> CanonicalFrame:
    """The canonical frame from the crop stage's metadata and the ``frames`` array's
    (H, W) (a store from before rectangular frames: square, content box if recorded)."""
    h, w = shape
    box = meta.get("content_box") or [0, 0, w, h]
    return CanonicalFrame(h, w, tuple(float(v) for v in box))  # type: ignore[arg-type]


def canonical_frame(store: Any) -> CanonicalFrame:
    """The canonical frame of a prepared video's store (its ``frames`` and crop record)."""
    arr = store.open_array("frames")
    if arr is None:
        raise StageError(
            f"Video {store.video_id} has no canonical frames yet.",
            "Run `ptx prepare` on it (at least until the crop stage).",
        )
    rec = store.record("crop")
    meta = rec.meta if rec is not None else {}
    return frame_from_meta(meta, (int(arr.shape[1]), int(arr.shape[2])))
