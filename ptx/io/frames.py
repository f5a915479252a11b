"""Image sequences as video: a folder of PNG/JPEG frames, a ``%05d.png`` pattern, or one
image (a photo: a sequence of one frame).

A sequence is read in the order of the last number in each file name (then the name), and
encoded once, losslessly (``libx264rgb``, qp 0), into a video file at a given frame rate, so
every stage reads it exactly as it reads any video. All frames must have one size.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ptx.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_PATTERN = re.compile(r"%0?(\d*)d")


def is_pattern(path: Path | str) -> bool:
    """Whether ``path``'s name is a printf pattern like ``frame_%05d.png``."""
    return bool(_PATTERN.search(Path(path).name))


def is_frame_source(path: Path | str) -> bool:
    """A folder (of images) or a ``%d`` pattern, rather than a video file."""
    return Path(path).is_dir() or is_pattern(path)


def is_image_file(path: Path | str) -> bool:
    """A single PNG or JPEG file (a photo: prepared as a video of one frame)."""
    path = Path(path)
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.is_dir() and not is_pattern(path)


def _order(p: Path) -> tuple[int, str]:
    m = _LAST_NUMBER.search(p.stem)
    return (int(m.group(1)) if m else -1, p.name)


def frame_files(source: Path | str) -> list[Path]:
    """The images of a folder or pattern, in frame order; InputError when there are none."""
    source = Path(source).expanduser()
    if is_pattern(source):
        folder = source.parent
        m = _PATTERN.search(source.name)
        assert m is not None
        width = f"{{{m.group(1)}}}" if m.group(1) else "+"
        regex = re.compile(
            re.escape(source.name[: m.start()])
            + rf"(\d{width})"
            + re.escape(source.name[m.end() :])
            + "$"
        )
        files = [p for p in folder.iterdir() if regex.match(p.name)] if folder.is_dir() else []
        files.sort(key=lambda p: int(regex.match(p.name).group(1)))  # type: ignore[union-attr]
    else:
        files = sorted(
            (p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_order
        )
    if not files:
        raise InputError(
            f"No PNG or JPEG frames in {source}.",
            "Give a folder of frames (frame_00001.png, ...) or a pattern such as frames/%05d.png.",
        )
    return files


def frames_digest(files: list[Path], fps: float) -> str:
    """BLAKE2b-128 of the frames' names, bytes and the rate they are shown at."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"fps={fps:.6f}".encode())
    for p in files:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def read_image(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) RGB of one image file."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path} is not a readable image.", "Use PNG or JPEG frames.")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def iter_images(files: list[Path]) -> Iterator[np.ndarray]:
    """The frames as uint8 (H, W, 3) RGB; InputError when one differs in size."""
    size = None
    for p in files:
        img = read_image(p)
        if size is None:
            size = img.shape
        elif img.shape != size:
            raise InputError(
                f"{p.name} is {img.shape[1]}x{img.shape[0]}, the first frame {size[1]}x{size[0]}.",
                "All frames of a sequence must have one size.",
            )
        yield img


def encode_frames(files: list[Path], out: Path, fps: float) -> Path:
    """Encode the images losslessly into ``out`` (.mkv) at ``fps``; written under a
    temporary name and renamed when complete."""
    first = read_image(files[0])
    h, w = first.shape[:2]
    tmp = out.with_name(f".{out.name}.partial.mkv")
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(tmp), "w", format="matroska") as container:
        vs = container.add_stream("libx264rgb", rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height, vs.pix_fmt = w, h, "rgb24"
        vs.options = {"qp": "0", "preset": "ultrafast"}
        for img in iter_images(files):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            for packet in vs.encode(frame):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
    tmp.replace(out)
    return out
