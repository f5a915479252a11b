"""Video decoding with PyAV: probing, rotation, constant-rate resampling, seeking.

Frame times are measured from the stream's start time. Output frame ``i`` of a decode at
``fps`` shows time ``start + i / fps``; it takes the last source frame whose time is at most
half an output period after that instant. For a constant-rate source decoded at its own rate
this is exactly frame ``i``; for variable-rate video it gives a constant-rate sequence
(frames repeated or dropped as needed), like FFmpeg's ``fps`` filter.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ptx.errors import InputError

MIN_FRAMES = 2
"""Fewest frames of a motion (a still image is not a video of a moving person)."""
MIN_STILL_FRAMES = 1
"""Fewest frames ``ptx prepare`` accepts: one frame is a photo (a one-shot method's
target, ``ptx transfer --target-image``)."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, plus the rotation to display it upright."""

    path: str
    width: int
    """Displayed width (after rotation)."""
    height: int
    """Displayed height (after rotation)."""
    coded_width: int
    coded_height: int
    rotation: int
    """Degrees counter-clockwise the decoded picture is turned for display (0/90/180/270)."""
    fps: float
    """Average frame rate."""
    duration: float
    """Seconds, from the stream (or the container when the stream does not say)."""
    frame_count: int
    """Frames at ``fps`` over ``duration`` (the container's own count is often absent)."""
    has_audio: bool
    codec: str

    def to_json(self) -> dict:
        return asdict(self)


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"No such file: {path}.", "Check the path (quote it if it has spaces).")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a video file.", "Give the path of a video file.")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes).", "Re-export or re-download the video.")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(
            f"{path} is not a readable video ({reason}).",
            "Is the file complete? Re-encode it (for example to H.264 .mp4) and try again.",
        ) from None


def _rotation(frame: av.VideoFrame) -> int:
    try:
        rot = int(round(frame.rotation or 0))
    except (AttributeError, ValueError, TypeError):
        rot = 0
    return (round(rot / 90) * 90) % 360


def probe_video(path: Path | str) -> VideoInfo:
    """Open ``path``, decode its first frame, and describe it. Raises InputError for
    anything that is not a decodable video."""
    path = Path(path)
    with _open(path) as container:
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise InputError(
                f"{path} has no video stream (it holds {kinds}).",
                "Give ptx a video file with a picture track.",
            )
        vs = container.streams.video[0]
        try:
            first = next(iter(container.decode(vs)), None)
        except av.FFmpegError as exc:
            raise InputError(
                f"{path} could not be decoded ({exc}).",
                "The file may be damaged; re-encode it (for example to H.264 .mp4).",
            ) from None
        if first is None:
            raise InputError(
                f"{path} has a video stream but no decodable frames.",
                "The file may be truncated; re-encode or re-download it.",
            )
        rotation = _rotation(first)
        tb = float(vs.time_base) if vs.time_base else 0.0
        rate = vs.average_rate or vs.guessed_rate or vs.base_rate
        fps = float(rate) if rate else 0.0
        if vs.duration and tb:
            duration = vs.duration * tb
        elif container.duration:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        if not fps or fps <= 0 or fps > 1000:
            fps = (vs.frames / duration) if (vs.frames and duration) else 25.0
        count = int(round(duration * fps)) if duration else int(vs.frames or 1)
        if vs.frames and abs(vs.frames - count) > 1 and not vs.duration:
            count = int(vs.frames)
        cw, ch = first.width, first.height
        w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
        return VideoInfo(
            path=str(path),
            width=w,
            height=h,
            coded_width=cw,
            coded_height=ch,
            rotation=rotation,
            fps=fps,
            duration=float(duration),
            frame_count=max(count, 1),
            has_audio=bool(container.streams.audio),
            codec=vs.codec_context.name,
        )


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) scaled so that the long side is at most ``long_side`` (never upscaled)."""
    scale = min(1.0, long_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def frame_count_for(info: VideoInfo, fps: float, start: float, end: float | None) -> int:
    """How many frames a decode of ``[start, end)`` at ``fps`` yields."""
    stop = info.duration if end is None else min(end, info.duration)
    return max(0, int(round((stop - start) * fps)))


class FrameDecoder:
    """Decode a video into upright RGB arrays at a constant rate, from any frame index.

    ``size`` is the displayed (w, h) of the output; scaling happens in FFmpeg's swscale.
    """

    def __init__(
        self,
        info: VideoInfo,
        fps: float,
        start: float = 0.0,
        size: tuple[int, int] | None = None,
        workers: int = 2,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        region: tuple[int, int, int, int] | None = None,
    ) -> None:
        self.info = info
        self.workers = workers
        """Threads converting decoded frames to RGB (1: in the decoding thread)."""
        self.transform = transform
        """Applied to each upright RGB frame on the converting thread (e.g. a crop)."""
        self.region = region
        """(x0, y0, width, height) of the picture cut out and scaled to ``size`` (which is
        then the region's output size) by FFmpeg in one pass: its crop, scale ('area' when
        shrinking, bicubic when enlarging) and RGB conversion, on a filter graph per
        converting thread. Only for a picture displayed as decoded (no rotation) and a
        region inside it. Measured at 1080p, a 1080 x 1080 region to 512 x 512: 1.1 ms a
        frame, against 5.8 ms converting the whole frame and resizing the region with
        OpenCV's area filter (mean absolute difference 0.9 of 255)."""
        if region is not None:
            x0, y0, rw, rh = region
            if info.rotation or x0 < 0 or y0 < 0 or rw < 1 or rh < 1 or x0 + rw > info.width \
                    or y0 + rh > info.height:  # fmt: skip
                raise ValueError(f"region {region} is not inside the upright picture")
        self.fps = fps
        self.start = start
        self.size = size or (info.width, info.height)
        w, h = self.size
        self._coded = (h, w) if info.rotation in (90, 270) else (w, h)
        downscale = self._coded[0] < info.coded_width or self._coded[1] < info.coded_height
        self._interp = "AREA" if downscale else "BICUBIC"
        self.last_time: float = 0.0
        """Time (s) of the last source frame decoded."""
        self._local = threading.local()

    def _convert(self, frame: av.VideoFrame) -> np.ndarray:
        if self.region is not None:
            return self._cut(frame)
        w, h = self._coded
        # one reformatter per converting thread: it keeps its swscale context, which
        # ``frame.to_ndarray`` builds anew for every frame (the same pixels, and 1.2 ms a
        # frame less at 1080p -> 640 px, 2.5 ms at full size)
        fmt = getattr(self._local, "reformatter", None)
        if fmt is None:
            fmt = self._local.reformatter = VideoReformatter()
        img = fmt.reformat(frame, w, h, "rgb24", interpolation=self._interp).to_ndarray()
        k = self.info.rotation // 90
        img = np.ascontiguousarray(np.rot90(img, k)) if k else img
        return img if self.transform is None else self.transform(img)

    def _cut(self, frame: av.VideoFrame) -> np.ndarray:
        graph = getattr(self._local, "graph", None)
        if graph is None:
            assert self.region is not None
            x0, y0, rw, rh = self.region
            w, h = self.size
            graph = self._local.graph = av.filter.Graph()
            chain = [
                graph.add_buffer(width=frame.width, height=frame.height,
                                 format=frame.format.name, time_base=Fraction(1, 1000)),
                graph.add("crop", f"{rw}:{rh}:{x0}:{y0}:exact=1"),
                graph.add("scale", f"{w}:{h}:flags={'area' if w < rw else 'bicubic'}"),
                graph.add("format", "rgb24"),
                graph.add("buffersink"),
            ]  # fmt: skip
            for a, b in itertools.pairwise(chain):
                a.link_to(b)
            graph.configure()
        graph.push(frame)
        return graph.pull().to_ndarray()

    def frames(self, first: int, count: int, seek: bool = True) -> Iterator[np.ndarray]:
        """Yield output frames ``first .. first + count - 1`` (fewer if the file ends early).

        With ``seek`` the decode starts at the keyframe before ``first``; otherwise it
        decodes from the beginning of the file. With ``workers`` > 1 the frames are
        converted to RGB (and scaled) on that many threads while FFmpeg decodes the next
        ones (swscale runs outside the GIL): the same arrays, in the same order, sooner."""
        picks = self._picks(first, count, seek)
        if self.workers <= 1:
            last, img = None, None
            for frame in picks:
                if frame is not last:
                    try:
                        img = self._convert(frame)
                    except av.FFmpegError:
                        return  # damaged frame: stop here; the caller compares counts
                    last = frame
                yield img
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="ptx-convert") as pool:
            queue: deque[Future] = deque()
            last, fut = None, None
            try:
                for frame in picks:
                    if frame is not last:
                        fut, last = pool.submit(self._convert, frame), frame
                    queue.append(fut)
                    while len(queue) > 2 * self.workers:
                        yield queue.popleft().result()
                while queue:
                    yield queue.popleft().result()
            except av.FFmpegError:
                return  # damaged frame: stop here; the caller compares counts
            finally:
                for f in queue:
                    f.cancel()

    def _picks(self, first: int, count: int, seek: bool = True) -> Iterator[av.VideoFrame]:
        """The decoded source frame of each output frame (the same object where a frame
        repeats); see :meth:`frames`."""
        if count <= 0:
            return
        tol = 0.5 / self.fps
        src_period = 1.0 / self.info.fps if self.info.fps else tol
        with av.open(self.info.path, metadata_errors="ignore") as container:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            tb = float(vs.time_base)
            origin = float(vs.start_time * tb) if vs.start_time is not None else 0.0
            target0 = origin + self.start + first / self.fps
            seek = seek and target0 > origin + 1.0
            if seek:
                container.seek(int(max(0.0, target0 - 1.0) / tb), stream=vs, backward=True)
            i, end = first, first + count
            prev: av.VideoFrame | None = None
            checked_seek = False
            try:
                for frame in container.decode(vs):
                    t = frame.time if frame.pts is not None else self.last_time + src_period
                    if not checked_seek:
                        checked_seek = True
                        if seek and t > target0 + tol:
                            # The seek overshot (a sparse index): decode from the start.
                            yield from self._from_start(first, count)
                            return
                    self.last_time = t
                    while i < end and t > origin + self.start + i / self.fps + tol:
                        yield prev if prev is not None else frame
                        i += 1
                    if i >= end:
                        return
                    prev = frame
            except av.FFmpegError:
                pass  # damaged tail: stop here; the caller compares counts
            # End of stream: the last frame holds until its own display time runs out.
            while prev is not None and i < end:
                if origin + self.start + i / self.fps > self.last_time + src_period + tol:
                    break
                yield prev
                i += 1

    def _from_start(self, first: int, count: int) -> Iterator[av.VideoFrame]:
        for n, frame in enumerate(self._picks(0, first + count, seek=False)):
            if n >= first:
                yield frame
