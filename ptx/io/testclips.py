"""Generated clips with known content, for tests, benchmarks and the demo.

``pattern_frame(i, w, h)`` is a deterministic moving colour pattern; a clip written with the
lossless ``libx264rgb`` codec decodes back to exactly these arrays.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def pattern_frame(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i`` of the moving test pattern: uint8 (height, width, 3), RGB.

    A smooth gradient that scrolls with ``i`` plus a bright square whose position encodes
    ``i``, so frames are distinct and easy to tell apart after decoding."""
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack(
        [(xx * 2 + i * 7) % 256, (yy * 2 + i * 3) % 256, ((xx + yy) // 2 + i * 11) % 256], -1
    ).astype(np.uint8)
    s = max(2, min(width, height) // 8)
    x0 = (i * 5) % max(1, width - s)
    y0 = (i * 3) % max(1, height - s)
    img[y0 : y0 + s, x0 : x0 + s] = 255
    return img


def write_clip(
    path: Path | str,
    frames: int = 24,
    width: int = 64,
    height: int = 48,
    fps: int = 25,
    lossless: bool = True,
    rotation: int = 0,
    times: list[float] | None = None,
    audio: bool = False,
    faststart: bool = False,
    images: list[np.ndarray] | None = None,
    preset: str = "ultrafast",
) -> Path:
    """Write a test clip and return its path.

    ``times`` gives each frame's presentation time in seconds (variable frame rate);
    ``rotation`` sets the display matrix (degrees counter-clockwise); ``images`` replaces
    the pattern with given uint8 (H, W, 3) frames; ``audio`` adds a sine tone track."""
    path = Path(path)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as out:
        codec = "libx264rgb" if lossless else "libx264"
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = "rgb24" if lossless else "yuv420p"
        vs.options = {"qp": "0", "preset": preset} if lossless else {"crf": "18", "preset": preset}
        if times is not None:
            vs.time_base = Fraction(1, 1000)
            vs.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            vs.set_display_rotation(rotation)
        astream = out.add_stream("aac", rate=16000) if audio else None
        n = len(images) if images is not None else frames
        for i in range(n):
            img = images[i] if images is not None else pattern_frame(i, width, height)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if times is not None:
                frame.pts = round(times[i] * 1000)
                frame.time_base = Fraction(1, 1000)
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        if astream is not None:
            _write_tone(out, astream, seconds=n / fps)
    return path


def _write_tone(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float):
    rate = stream.rate
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    block = stream.codec_context.frame_size or 1024
    for start in range(0, len(samples), block):
        chunk = samples[start : start + block][None, :]
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
        frame.rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_audio_only(path: Path | str, seconds: float = 1.0) -> Path:
    """An .m4a/.mp4 file with an AAC track and no video (a bad input for ptx)."""
    path = Path(path)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=16000)
        _write_tone(out, stream, seconds)
    return path
