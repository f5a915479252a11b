"""Import DensePose IUV images made elsewhere (``--iuv densepose:DIR``).

DensePose's inference scripts write one IUV image per frame, ``*_IUV.png`` (or any
``.png``), whose three channels, as OpenCV reads them, are I (part 0..24), U x 255 and
V x 255, in the source video's pixels (any resolution with the video's aspect ratio).
Files are ordered by the last number in their names; each is mapped into ptx's canonical
crop with nearest-neighbour sampling, so part ids are never blended.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from ptx.errors import InputError

_NUM = re.compile(r"(\d+)(?!.*\d)")


def densepose_files(folder: Path) -> list[Path]:
    """The IUV images of ``folder`` in frame order."""
    if not folder.is_dir():
        raise InputError(f"DensePose folder {folder} does not exist.", "Check --iuv densepose:DIR.")
    files = [p for p in folder.iterdir() if p.suffix.lower() == ".png"]
    iuv = [p for p in files if p.stem.upper().endswith("IUV")]
    files = iuv or files
    if not files:
        raise InputError(f"No IUV .png images in {folder}.", "Point --iuv at DensePose's output.")

    def key(p: Path):
        m = _NUM.search(p.stem)
        return (int(m.group(1)) if m else -1, p.name)

    return sorted(files, key=key)


def read_iuv(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) I, U, V of one DensePose IUV image."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None or img.ndim != 3 or img.shape[2] < 3:
        raise InputError(f"{path} is not a 3-channel IUV image.")
    img = np.ascontiguousarray(img[..., :3])
    if img[..., 0].max() > 24:
        raise InputError(f"{path}: part ids above 24; this is not a DensePose IUV image.")
    return img


def to_canonical(
    iuv: np.ndarray,
    src_w: int,
    src_h: int,
    box: tuple[float, float, float],
    size: int | tuple[int, int],
) -> np.ndarray:
    """Map an IUV image of a ``src_w`` x ``src_h`` video into the canonical crop: ``box`` =
    (x0, y0, side) in source pixels with ``side`` the crop's long side, ``size`` the
    canonical frame's (H, W) (or the side of a square). Outside the image: 0."""
    x0, y0, side = box
    h, w = (size, size) if isinstance(size, (int, np.integer)) else size
    sx, sy = iuv.shape[1] / src_w, iuv.shape[0] / src_h
    step = side / max(h, w)
    cx = (np.arange(w, dtype=np.float32) + 0.5) * step
    cy = (np.arange(h, dtype=np.float32) + 0.5) * step
    map_x = np.broadcast_to(((x0 + cx) * sx - 0.5)[None, :], (h, w)).astype(np.float32)
    map_y = np.broadcast_to(((y0 + cy) * sy - 0.5)[:, None], (h, w)).astype(np.float32)
    return cv2.remap(iuv, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
