"""Extract benchmark: decode + store frames/s on a generated 1080p clip, next to the raw
PyAV decode rate measured in the same run (the ratio shows whether storing is a bottleneck;
decode-to-arrays is measured both with the conversion in the decoding thread and, as
extract's decoder does it, on two threads),
and what the chunks' CRC-32C costs: extract with and without the checksum codec, and a
cached `prepare` (which reads every chunk file and checks its checksum).

    python benchmarks/bench_extract.py [--frames 240] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from unittest import mock

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, write_result

from ptx.cache import store as store_module
from ptx.cache.store import _codec
from ptx.cache.workspace import Workspace
from ptx.io.testclips import write_clip
from ptx.io.video import fit_long_side
from ptx.pipeline.runner import prepare_video


def decode_to_arrays(path: Path, size: tuple[int, int]) -> int:
    """Decode every frame into an RGB array at the analysis size: the same pixel work as
    extract, without storing anything (the baseline extract is measured against)."""
    n = 0
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        for frame in c.decode(vs):
            frame.to_ndarray(width=size[0], height=size[1], format="rgb24", interpolation="AREA")
            n += 1
    return n


def decode_to_arrays_threads(path: Path, size: tuple[int, int], workers: int = 2) -> int:
    """The same, each frame converted on one of ``workers`` threads while the next ones
    decode (as extract's decoder does since it converts on threads): the fair baseline for
    extract now."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    def convert(frame: av.VideoFrame) -> np.ndarray:
        return frame.to_ndarray(width=size[0], height=size[1], format="rgb24",
                                interpolation="AREA")  # fmt: skip

    n = 0
    with av.open(str(path)) as c, ThreadPoolExecutor(workers) as pool:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        queue: deque = deque()
        for frame in c.decode(vs):
            queue.append(pool.submit(convert, frame))
            while len(queue) > 2 * workers:
                queue.popleft().result()
                n += 1
        for f in queue:
            f.result()
            n += 1
    return n


def decode_full_rgb(path: Path) -> int:
    """Decode every frame into a full-size RGB array (the usual "raw decode" figure)."""
    n = 0
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        for frame in c.decode(vs):
            frame.to_ndarray(format="rgb24")
            n += 1
    return n


def scene(n: int, width: int, height: int) -> list[np.ndarray]:
    """A camera-like scene: smooth lit background, a moving figure-sized blob, mild noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([90 + 60 * xx / width, 80 + 70 * yy / height, 120 + 0 * xx], -1)
    frames = []
    for i in range(n):
        cx = width * (0.3 + 0.4 * (i / max(1, n - 1)))
        cy = height * 0.55
        d = ((xx - cx) / (width * 0.08)) ** 2 + ((yy - cy) / (height * 0.35)) ** 2
        img = base.copy()
        img[d < 1] = (200, 60, 40)
        img += rng.normal(0, 2, size=(1, 1, 3))
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def raw_decode_only(path: Path) -> int:
    """Decode every frame, no pixel conversion."""
    n = 0
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        for _ in c.decode(vs):
            n += 1
    return n


REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "dance_basketball.mp4"


def real_clip(tmp: Path, repeats: int) -> dict:
    """Extract of the real 1080p clip against decoding it to arrays, interleaved."""
    from ptx.io.video import probe_video

    info = probe_video(REAL)
    size = fit_long_side(info.width, info.height, 640)
    n = decode_to_arrays(REAL, size)

    def extract() -> None:
        ws = Workspace(tmp / "ws-real")
        shutil.rmtree(ws.root, ignore_errors=True)
        prepare_video(REAL, ws, "real", until="extract")

    t_raw, t_thr, t_ext = [], [], []
    for _ in range(repeats):
        t_raw.append(median_time(lambda: decode_to_arrays(REAL, size), 1, 0))
        t_thr.append(median_time(lambda: decode_to_arrays_threads(REAL, size), 1, 0))
        t_ext.append(median_time(extract, 1, 0))
    raw, thr, ext = (float(np.median(t)) for t in (t_raw, t_thr, t_ext))
    return {"clip": REAL.name, "frames": n, "decode_to_arrays_fps": n / raw,
            "decode_to_arrays_threads_fps": n / thr, "extract_fps": n / ext,
            "extract_vs_decode_to_arrays": raw / ext,
            "extract_vs_decode_to_arrays_threads": thr / ext,
            "load_average": os.getloadavg()[0]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ptx-bench-extract-"))
    try:
        clip = write_clip(
            tmp / "clip1080.mp4", width=1920, height=1080, fps=30, lossless=False,
            images=scene(args.frames, 1920, 1080), preset="veryfast",
        )  # fmt: skip
        n = args.frames
        size = fit_long_side(1920, 1080, 640)

        def extract() -> None:
            ws = Workspace(tmp / "ws")
            shutil.rmtree(ws.root, ignore_errors=True)
            prepare_video(clip, ws, "bench", until="extract")

        def extract_without_checksums() -> None:
            with mock.patch.object(
                store_module, "_compressors", lambda c=1, n="zstd": (_codec(c, n),)
            ):
                extract()

        def extract_zstd() -> None:  # the analysis frames' previous codec
            create = store_module.VideoStore.create_array

            def zstd(self, *a, **k):
                return create(self, *a, **{**k, "codec": "zstd"})

            with mock.patch.object(store_module.VideoStore, "create_array", zstd):
                extract()

        def cached_prepare() -> None:  # every chunk file read and its CRC-32C checked
            prepare_video(clip, Workspace(tmp / "ws"), "bench", until="extract")

        t_decode_only = median_time(lambda: raw_decode_only(clip), args.repeats)
        t_raw = median_time(lambda: decode_to_arrays(clip, size), args.repeats)
        t_thr = median_time(lambda: decode_to_arrays_threads(clip, size), args.repeats)
        t_full = median_time(lambda: decode_full_rgb(clip), args.repeats)
        t_plain = median_time(extract_without_checksums, args.repeats)
        t_extract = median_time(extract, args.repeats)
        t_zstd = median_time(extract_zstd, args.repeats)
        t_cached = median_time(cached_prepare, args.repeats)
        stored = sum(p.stat().st_size for p in (tmp / "ws").rglob("c/*/*/*/*") if p.is_file())
        result = {
            "clip": {"width": 1920, "height": 1080, "frames": n, "codec": "h264"},
            "analysis_size": 640,
            "raw_decode_fps": n / t_decode_only,
            "decode_to_arrays_fps": n / t_raw,
            "decode_full_rgb_fps": n / t_full,
            "extract_vs_decode_full_rgb": t_full / t_extract,
            "extract_fps": n / t_extract,
            "extract_vs_decode_to_arrays": t_raw / t_extract,
            "decode_to_arrays_threads_fps": n / t_thr,
            "extract_vs_decode_to_arrays_threads": t_thr / t_extract,
            "extract_vs_raw_decode": t_decode_only / t_extract,
            "extract_zstd_fps": n / t_zstd,
            "extract_zstd_vs_decode_to_arrays": t_raw / t_zstd,
            "checksums": {
                "extract_fps_without": n / t_plain,
                "extract_fps_with": n / t_extract,
                "cost_fraction": t_extract / t_plain - 1.0,
                "cached_prepare_s": t_cached,
                "verified_mb_per_s": stored / 2**20 / t_cached,
                "stored_mb": stored / 2**20,
            },
            "repeats": args.repeats,
            "statistic": "median",
            "load_average": os.getloadavg()[0],
        }
        if REAL.is_file():
            result["real"] = real_clip(tmp, args.repeats)
        path = write_result("extract", result)
        print(f"extract: {result['extract_fps']:.1f} f/s; decode to arrays "
              f"{result['decode_to_arrays_fps']:.1f} f/s (ratio "
              f"{result['extract_vs_decode_to_arrays']:.2f}); decode only "
              f"{result['raw_decode_fps']:.1f} f/s -> {path}")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
