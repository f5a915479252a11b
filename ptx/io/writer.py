"""Writing results: H.264 mp4 (optionally with the source's audio), video with alpha, or
a PNG sequence. Output files appear only when complete (written under a temporary name
and renamed on close), so a crash never leaves a half-written video that looks finished.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ptx.errors import InputError

ALPHA_FORMATS = {".mov": ("png", "rgba"), ".webm": ("libvpx-vp9", "yuva420p")}
"""Containers that carry alpha, with the codec and pixel format used for them."""


def check_writable(path: Path, option: str = "-o") -> Path:
    """Check, before any work, that ``path`` can be written: its folder exists and is
    writable, and it is not a folder itself."""
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise InputError(
            f"Output folder {folder} does not exist.",
            f"Create it, or choose another {option} path.",
        )
    if not os.access(folder, os.W_OK):
        raise InputError(
            f"Output folder {folder} is not writable.", f"Choose another {option} path."
        )
    if path.is_dir() and path.suffix:
        raise InputError(f"{path} is a folder.", f"Choose a file name for {option}.")
    return path


def check_output_path(path: Path, alpha: bool = False) -> Path:
    """Validate an output path (its folder must exist and be writable)."""
    path = check_writable(Path(path))
    if alpha and path.suffix and path.suffix.lower() not in ALPHA_FORMATS:
        raise InputError(
            f"{path.name}: {path.suffix} cannot carry alpha.",
            "Use .mov or .webm, or a folder name (no suffix) for a PNG sequence.",
        )
    if not alpha and path.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise InputError(f"{path.name}: write results as .mp4 (or .mov/.mkv).")
    return path


class VideoWriter:
    """Encode RGB(A) frames one at a time.

    ``frames`` are uint8 (H, W, 3), or (H, W, 4) with ``alpha``. ``audio_from`` copies the
    audio track of that file (from ``audio_start`` seconds, for the video's duration)
    without re-encoding it.
    """

    def __init__(
        self,
        path: Path | str,
        fps: float,
        size: tuple[int, int],
        alpha: bool = False,
        audio_from: Path | None = None,
        audio_start: float = 0.0,
        crf: int = 18,
    ) -> None:
        self.path = check_output_path(Path(path), alpha)
        self.fps = fps
        self.width, self.height = size
        self.alpha = alpha
        self.count = 0
        self.audio_from = audio_from
        self.audio_start = audio_start
        self._png_dir: Path | None = None
        self._tmp = self.path.with_name(f".{self.path.name}.partial{self.path.suffix}")
        if alpha and not self.path.suffix:
            self._png_dir = self._tmp
            self._png_dir.mkdir(parents=True, exist_ok=True)
            return
        self._out = av.open(str(self._tmp), "w", format=_format_for(self.path))
        rate = Fraction(fps).limit_denominator(1001)
        if alpha:
            codec, pix = ALPHA_FORMATS[self.path.suffix.lower()]
        else:
            # even sizes for 4:2:0
            codec, pix = "libx264", "yuv420p"
            self.width, self.height = self.width // 2 * 2, self.height // 2 * 2
        self._vs = self._out.add_stream(codec, rate=rate)
        self._vs.width, self._vs.height, self._vs.pix_fmt = self.width, self.height, pix
        if codec == "libx264":
            self._vs.options = {"crf": str(crf), "preset": "veryfast"}
        self._audio_in = None
        if audio_from is not None:
            src = av.open(str(audio_from))
            if src.streams.audio:
                self._audio_in = src
                self._as = self._out.add_stream_from_template(src.streams.audio[0])
            else:
                src.close()

    def write(self, frame: np.ndarray) -> None:
        """Append one frame: uint8 (H, W, 3) RGB, or (H, W, 4) RGBA with ``alpha``."""
        frame = np.ascontiguousarray(frame[: self.height, : self.width])
        want = 4 if self.alpha else 3
        if frame.ndim != 3 or frame.shape[2] != want or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 (H, W, {want}), got {frame.dtype} {frame.shape}")
        if self._png_dir is not None:
            import cv2

            ok, png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGBA2BGRA))
            if not ok:
                raise ValueError("cannot encode the frame as PNG")
            # written by Python, so a full disk raises instead of being ignored
            (self._png_dir / f"{self.count:06d}.png").write_bytes(png.tobytes())
        else:
            vf = av.VideoFrame.from_ndarray(frame, format="rgba" if self.alpha else "rgb24")
            for packet in self._vs.encode(vf):
                self._out.mux(packet)
        self.count += 1

    def close(self) -> Path:
        """Finish the file (flush, add audio) and move it into place; returns its path. When
        finishing fails (a full disk), the partial file is removed."""
        try:
            if self._png_dir is not None:
                if self.path.exists():
                    shutil.rmtree(self.path)
                self._png_dir.rename(self.path)
                return self.path
            for packet in self._vs.encode():
                self._out.mux(packet)
            if self._audio_in is not None:
                self._copy_audio()
            self._out.close()
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Drop the partial output."""
        if self._png_dir is not None:
            shutil.rmtree(self._png_dir, ignore_errors=True)
            return
        with contextlib.suppress(av.FFmpegError):
            self._out.close()
        if self._audio_in is not None:
            self._audio_in.close()
        self._tmp.unlink(missing_ok=True)

    def _copy_audio(self) -> None:
        src = self._audio_in
        stream = src.streams.audio[0]
        tb = float(stream.time_base)
        begin = self.audio_start + (float(stream.start_time * tb) if stream.start_time else 0.0)
        end = begin + self.count / self.fps
        offset = round(begin / tb)
        for packet in src.demux(stream):
            if packet.pts is None:
                continue
            t = packet.pts * tb
            if t < begin - 1e-6:
                continue
            if t >= end:
                break
            packet.pts -= offset
            if packet.dts is not None:
                packet.dts -= offset
            packet.stream = self._as
            self._out.mux(packet)
        src.close()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _format_for(path: Path) -> str | None:
    return {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}.get(
        path.suffix.lower()
    )


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``left`` resized to ``right``'s height, then ``left | right``: uint8 (H, W1 + W2, 3)."""
    import cv2

    h = right.shape[0]
    if left.shape[0] != h:
        w = max(1, round(left.shape[1] * h / left.shape[0]))
        left = cv2.resize(left, (w, h), interpolation=cv2.INTER_AREA)
    return np.concatenate([left[..., :3], right[..., :3]], axis=1)
