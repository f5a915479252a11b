"""Stage ``extract``: decode the source video into ``frames_analysis``.

Output: ``frames_analysis`` uint8 (T, h, w, 3), RGB, upright (rotation metadata applied),
at a constant frame rate, long side at most ``analysis_size``. Metadata (``store.meta``):
fps, source size, rotation, duration, frame count, audio, content hash.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ptx.errors import InputError
from ptx.io.video import MIN_STILL_FRAMES, FrameDecoder, fit_long_side, frame_count_for, probe_video
from ptx.pipeline.stage import SOURCE, Stage, StageContext


@dataclass
class ExtractConfig:
    analysis_size: int = 640
    """Long side of ``frames_analysis`` in pixels (never upscaled)."""
    fps: float | None = None
    """Output frame rate; None keeps the source's average rate. Variable-rate video is
    resampled to this constant rate."""
    start: float = 0.0
    """Seconds from the beginning of the video where extraction starts."""
    end: float | None = None
    """Seconds from the beginning where extraction stops (None: the end of the video)."""
    max_frames: int | None = None
    """Keep at most this many frames (None: all)."""


class ExtractStage(Stage):
    name = "extract"
    runs_during_preload = True  # PyAV, NumPy and Zarr only
    version = 1
    Config = ExtractConfig
    inputs = (SOURCE,)
    outputs = ("frames_analysis",)

    @classmethod
    def check(cls, config: ExtractConfig) -> None:
        _check_config(config, 0.0, "")

    def run(self, ctx: StageContext) -> None:
        cfg: ExtractConfig = ctx.config
        if ctx.source is None:
            raise InputError("The source video of this store is no longer at any known path.")
        info = probe_video(ctx.source)
        _check_config(cfg, info.duration, ctx.source.name)
        fps = cfg.fps or info.fps
        n = frame_count_for(info, fps, cfg.start, cfg.end)
        if cfg.max_frames is not None:
            n = min(n, cfg.max_frames)
        if n < MIN_STILL_FRAMES:
            raise InputError(
                f"{ctx.source.name} has no frame in the chosen range.",
                "Give a wider --start/--end range.",
            )
        w, h = fit_long_side(info.width, info.height, cfg.analysis_size)
        # LZ4: written as fast as the video decodes (Zstd took the store to ~0.45-0.75 of
        # the decode rate) and read 5x faster by keypoints and crop; files ~1.5x larger
        ctx.create_array("frames_analysis", (n, h, w, 3), np.uint8, codec="lz4")
        chunk = ctx.chunk_frames
        todo = ctx.pending(-(-n // chunk), total_frames=n)
        ctx.set_meta(
            fps=fps,
            source_fps=info.fps,
            source_width=info.width,
            source_height=info.height,
            rotation=info.rotation,
            source_duration=info.duration,
            start=cfg.start,
            duration=n / fps,
            frame_count=n,
            width=w,
            height=h,
            scale=w / info.width,
            has_audio=info.has_audio,
            codec=info.codec,
            content_hash=ctx.store.workspace.source_info(ctx.store.video_id).get("content_hash"),
        )
        if not todo:
            return
        decoder = FrameDecoder(info, fps, cfg.start, (w, h))
        got = _decode_chunks(ctx, decoder, todo, n, chunk, (h, w))
        if got < n:
            _accept_short(ctx, got, n, fps, decoder.last_time, info.duration)


def _check_config(cfg: ExtractConfig, duration: float, name: str) -> None:
    if cfg.analysis_size < 16:
        raise InputError(f"--analysis-size {cfg.analysis_size} is too small (at least 16).")
    if cfg.fps is not None and not 0 < cfg.fps <= 240:
        raise InputError(f"--fps {cfg.fps} is out of range (0 < fps <= 240).")
    if cfg.start < 0 or (cfg.end is not None and cfg.end <= cfg.start):
        raise InputError(f"Bad time range --start {cfg.start} --end {cfg.end}.")
    if duration and cfg.start >= duration:
        raise InputError(
            f"--start {cfg.start} s is past the end of {name} ({duration:.2f} s).",
            "Choose a start inside the video.",
        )


def _decode_chunks(
    ctx: StageContext,
    decoder: FrameDecoder,
    todo: list[int],
    n: int,
    chunk: int,
    hw: tuple[int, int],
) -> int:
    """Decode from the first pending chunk to the end, writing and committing each pending
    chunk in a background thread (so compression overlaps decoding); each chunk is decoded
    into a buffer of its own that the writer takes as it is (no copy). Returns the number
    of frames the video really had."""
    pending = set(todo)
    first = todo[0] * chunk
    buf = np.empty((chunk, *hw, 3), np.uint8)
    in_flight: list[Future] = []
    index = first

    def flush(c: int, data: np.ndarray) -> None:
        ctx.store.write("frames_analysis", c * chunk, data)
        ctx.commit(c, frames=len(data))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ptx-store") as pool:
        try:
            for img in decoder.frames(first, n - first):
                buf[index % chunk] = img
                index += 1
                if index % chunk == 0 or index == n:
                    c = (index - 1) // chunk
                    if c in pending:
                        filled = index - c * chunk
                        in_flight.append(pool.submit(flush, c, buf[:filled]))
                        buf = np.empty_like(buf)
                    while len(in_flight) > 1:
                        in_flight.pop(0).result()
            tail = index % chunk
            if index < n and tail:
                c = index // chunk
                if c in pending:
                    in_flight.append(pool.submit(flush, c, buf[:tail]))
            for f in in_flight:
                f.result()
        finally:
            for f in in_flight:
                f.cancel()
    return index


def _accept_short(ctx: StageContext, got: int, n: int, fps: float, last: float, dur: float):
    """The file ended before the container said it would."""
    name = ctx.source.name if ctx.source else "the video"
    if got < MIN_STILL_FRAMES or n - got > max(2, 0.02 * n):
        raise InputError(
            f"{name} appears truncated or damaged: decoded {got} of {n} frames "
            f"(stopped at {last:.2f} s of {dur:.2f} s).",
            f"Re-encode or re-download it, or pass --end {max(last, 0.0):.2f} to use the "
            "readable part.",
        )
    arr = ctx.store.open_array("frames_analysis")
    arr.resize((got, *arr.shape[1:]))
    ctx.record.n_chunks = -(-got // ctx.chunk_frames)
    ctx.record.chunks_done = [c for c in ctx.record.chunks_done if c < ctx.record.n_chunks]
    ctx.set_meta(frame_count=got, duration=got / fps)
    ctx.warn(f"{name}: the container announced {n} frames, the stream held {got}.")
