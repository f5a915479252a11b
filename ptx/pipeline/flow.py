"""Stage ``flow``: optical flow between consecutive canonical frames, with its validity.

Convention (``ptx.nn.warp``, the one definition the temporal loss and metric use too):
``flow[t]`` maps a pixel ``p`` of frame t to its position ``p + flow[t][p]`` in frame t-1,
so warping ``frames[t-1]`` by ``flow[t]`` reproduces frame t wherever ``flow_valid[t]``
holds. ``flow[0]`` is 0 and invalid everywhere.

Flow is OpenCV's DIS on grey frames, run both ways; a pixel is valid when the forward and
backward flows agree (|f + b(p + f)|^2 <= alpha (|f|^2 + |b|^2) + beta, Sundaram et al. 2010)
and it lands inside frame t-1 (textureless areas often fail the check: their flow is not
observable). The DIS settings below were chosen on measured accuracy and speed
(benchmarks/bench_bgflow.py -> benchmarks/results/bgflow.json, 512 px): half-resolution
finest level, patch stride 4, 12 descent iterations, no variational refinement. Against
OpenCV's presets it took 2-2.7x less time than "medium" for the same warping error on a real
dance clip (0.91 vs 0.90 grey levels), and was 2.3x more accurate than "fast" on a moving
textured disc (end-point error 0.22 vs 0.49 px) at 1.3-2x fast's cost.

Outputs: ``flow`` float16 (T, H, W, 2) (x, y in pixels), ``flow_valid`` bool (T, H, W).
Meta: mean valid fraction, median flow length.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from ptx.config import setting
from ptx.errors import InputError
from ptx.pipeline.stage import Stage, StageContext


@dataclass
class FlowConfig:
    finest_scale: int = 1
    """DIS: finest pyramid level computed (0 = full resolution, 1 = half, 2 = quarter)."""
    patch_size: int = 8
    """DIS: side of the matched patches, pixels."""
    patch_stride: int = 4
    """DIS: distance between patch centres, pixels (smaller: slower, more accurate)."""
    descent_iters: int = 12
    """DIS: gradient descent iterations per patch."""
    refine_iters: int = 0
    """DIS: variational refinement iterations (0 = off; OpenCV's presets use 5)."""
    fb_alpha: float = 0.01
    """Forward-backward check: tolerance growing with the flow's squared length."""
    fb_beta: float = 0.5
    """Forward-backward check: constant tolerance, squared pixels."""
    workers: int = setting(2, fingerprint=False)
    """Frame pairs computed in parallel (each thread has its own DIS, so the flow is the
    same for any number; changing it re-runs nothing)."""
    warn_valid: float = 0.5
    """Warn when on average fewer than this fraction of pixels have a valid flow."""


def make_dis(cfg: FlowConfig | None = None) -> cv2.DISOpticalFlow:
    """An OpenCV DIS optical flow object with ``cfg``'s settings (not thread-safe)."""
    cfg = cfg or FlowConfig()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(cfg.finest_scale)
    dis.setPatchSize(cfg.patch_size)
    dis.setPatchStride(cfg.patch_stride)
    dis.setGradientDescentIterations(cfg.descent_iters)
    dis.setVariationalRefinementIterations(cfg.refine_iters)
    return dis


def grey(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB or (H, W) -> uint8 (H, W)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def to_half(flow: np.ndarray) -> np.ndarray:
    """float32 (H, W, 2) -> float16, the same values as numpy's ``astype`` but ~100x faster
    (numpy converts near-zero values slowly, OpenCV uses the CPU's conversion unit)."""
    if not hasattr(cv2, "convertFp16"):
        return flow.astype(np.float16)
    return cv2.convertFp16(np.ascontiguousarray(flow, np.float32)).view(np.float16)


def to_single(flow: np.ndarray) -> np.ndarray:
    """A stored flow float16 (H, W, 2) (or any float) -> float32, fast."""
    if flow.dtype != np.float16 or not hasattr(cv2, "convertFp16"):
        return np.ascontiguousarray(flow, np.float32)
    return cv2.convertFp16(np.ascontiguousarray(flow).view(np.int16))


def fb_valid(
    fwd: np.ndarray, bwd: np.ndarray, alpha: float = 0.01, beta: float = 0.5
) -> np.ndarray:
    """Forward-backward consistency.

    fwd: float32 (H, W, 2) from frame t to t-1; bwd: float32 (H, W, 2) from t-1 to t.
    Returns bool (H, W): True where fwd lands inside frame t-1 and bwd there brings it back.
    """
    from ptx.nn.warp import warp_backward_np  # torch: imported when the stage runs

    fwd = np.ascontiguousarray(fwd, np.float32)
    back, inside = warp_backward_np(np.ascontiguousarray(bwd, np.float32), fwd)
    fx, fy = cv2.split(fwd)
    bx, by = cv2.split(back)
    loop = (fx + bx) ** 2 + (fy + by) ** 2
    size = fx**2 + fy**2 + bx**2 + by**2
    return (loop <= alpha * size + beta) & inside


def compute_flow(
    prev: np.ndarray,
    cur: np.ndarray,
    cfg: FlowConfig | None = None,
    dis: cv2.DISOpticalFlow | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Flow from ``cur`` (frame t) to ``prev`` (frame t-1) and its validity.

    prev, cur: uint8 (H, W, 3) RGB or (H, W) grey. Returns flow float32 (H, W, 2) with
    ``cur[p] ~ prev[p + flow[p]]`` and valid bool (H, W).
    """
    cfg = cfg or FlowConfig()
    dis = dis or make_dis(cfg)
    if prev.shape[:2] != cur.shape[:2]:
        raise InputError(f"compute_flow: frames of different sizes {prev.shape} {cur.shape}.")
    g0, g1 = grey(prev), grey(cur)
    fwd = dis.calc(g1, g0, None)
    bwd = dis.calc(g0, g1, None)
    return fwd, fb_valid(fwd, bwd, cfg.fb_alpha, cfg.fb_beta)


def flow_panel(flow: np.ndarray, valid: np.ndarray, tile: int | tuple[int, int]) -> np.ndarray:
    """A picture of one flow field for ``ptx inspect``: uint8 (th, tw, 3) RGB for ``tile``
    (th, tw) (or a square's side); hue = direction, saturation = length (white = still),
    invalid pixels dark grey. flow: float (H, W, 2); valid: bool (H, W)."""
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    f = cv2.resize(to_single(flow), (tw, th), interpolation=cv2.INTER_NEAREST)
    ok = cv2.resize(valid.astype(np.uint8), (tw, th), interpolation=cv2.INTER_NEAREST) > 0
    length, angle = cv2.cartToPolar(f[..., 0], f[..., 1], angleInDegrees=True)
    top = max(1.0, float(np.percentile(length[ok], 99))) if ok.any() else 1.0
    hsv = np.empty((th, tw, 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)
    hsv[..., 1] = np.clip(length / top * 255, 0, 255).astype(np.uint8)
    hsv[..., 2] = 255
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    rgb[~ok] = 48
    return rgb


class _Pool:
    """Threads that each keep one DIS object (OpenCV releases the GIL while computing)."""

    def __init__(self, cfg: FlowConfig) -> None:
        self.cfg = cfg
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(max(1, cfg.workers), thread_name_prefix="ptx-flow")

    def _one(self, prev: np.ndarray, cur: np.ndarray, dtype: type) -> tuple:
        if not hasattr(self.local, "dis"):
            self.local.dis = make_dis(self.cfg)
        flow, valid = compute_flow(prev, cur, self.cfg, self.local.dis)
        return (to_half(flow) if dtype == np.float16 else flow), valid

    def pairs(self, frames: np.ndarray, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Flow (n-1, H, W, 2) as ``dtype`` and validity bool (n-1, H, W) of each
        consecutive pair of frames uint8 (n, H, W, 3): entry i maps frame i+1 to frame i."""
        n, h, w = frames.shape[:3]
        flow = np.zeros((max(0, n - 1), h, w, 2), dtype)
        valid = np.zeros((max(0, n - 1), h, w), bool)
        greys = list(self.pool.map(grey, frames))
        results = self.pool.map(self._one, greys[:-1], greys[1:], [dtype] * (n - 1))
        for i, (f, v) in enumerate(results):
            flow[i], valid[i] = f, v
        return flow, valid

    def close(self) -> None:
        self.pool.shutdown()


def flow_sequence(
    frames: np.ndarray, cfg: FlowConfig | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Flow of a whole (short) sequence, as stored by the stage.

    frames: uint8 (T, H, W, 3). Returns flow float32 (T, H, W, 2) (flow[0] = 0) and valid
    bool (T, H, W) (valid[0] = False).
    """
    pool = _Pool(cfg or FlowConfig())
    try:
        flow, valid = pool.pairs(frames)
    finally:
        pool.close()
    return _with_first(flow, valid, frames.shape[1:3])


def _with_first(flow: np.ndarray, valid: np.ndarray, hw: tuple[int, ...]) -> tuple:
    """Prepend frame 0's entry (no predecessor: zero flow, invalid)."""
    return (
        np.concatenate([np.zeros((1, *hw, 2), flow.dtype), flow]),
        np.concatenate([np.zeros((1, *hw), bool), valid]),
    )


class FlowStage(Stage):
    name = "flow"
    version = 1
    Config = FlowConfig
    inputs = ("frames",)
    outputs = ("flow", "flow_valid")

    @classmethod
    def check(cls, config: FlowConfig) -> None:
        _check_config(config)

    @classmethod
    def preload(cls, config: FlowConfig) -> tuple[str, ...]:
        return ("torch", "ptx.nn.warp")

    def run(self, ctx: StageContext) -> None:
        cfg: FlowConfig = ctx.config
        frames = ctx.store.open_array("frames")
        t, h, w = frames.shape[:3]
        chunk = frames.chunks[0]
        ctx.create_array("flow", (t, h, w, 2), np.float16, chunk_frames=chunk)
        ctx.create_array("flow_valid", (t, h, w), bool, chunk_frames=chunk)
        stats: dict[str, list[float]] = dict(ctx.record.meta.get("chunk_stats", {}))

        def store(i: int, a: int, b: int, flow: np.ndarray, valid: np.ndarray) -> None:
            stats[str(i)] = _chunk_stats(flow, valid)
            if a == 0:
                flow, valid = _with_first(flow, valid, (h, w))
            ctx.store.write("flow", a, flow)
            ctx.store.write("flow_valid", a, valid)
            ctx.set_meta(chunk_stats=stats)
            ctx.commit(i, frames=b - a)

        pool = _Pool(cfg)
        # one writer thread: chunk i is compressed and committed while chunk i+1 is computed
        writer = ThreadPoolExecutor(1, thread_name_prefix="ptx-store")
        written: Future | None = None
        try:
            last: tuple[int, np.ndarray] | None = None  # (index, frame) kept across chunks
            for i in ctx.pending(-(-t // chunk), total_frames=t):
                a, b = i * chunk, min(t, (i + 1) * chunk)
                if a > 0 and last is not None and last[0] == a - 1:
                    block = np.concatenate([last[1][None], ctx.read("frames", a, b)])
                else:
                    block = ctx.read("frames", max(0, a - 1), b)
                last = (b - 1, block[-1])
                flow, valid = pool.pairs(block, np.float16)  # converted in the workers
                if written is not None:
                    written.result()
                written = writer.submit(store, i, a, b, flow, valid)
            if written is not None:
                written.result()
        finally:
            writer.shutdown()
            pool.close()
        _summarize(ctx, stats, cfg)


def _chunk_stats(flow: np.ndarray, valid: np.ndarray) -> list[float]:
    """[valid fraction, pairs, median flow length] of one chunk's pairs (on every 4th
    pixel: a summary, not worth a full pass)."""
    if not len(flow):
        return [1.0, 0, 0.0]
    sample = flow[:, ::4, ::4].astype(np.float32)
    length = np.sqrt(sample[..., 0] ** 2 + sample[..., 1] ** 2)
    return [float(valid[:, ::4, ::4].mean()), len(flow), float(np.median(length))]


def _summarize(ctx: StageContext, stats: dict[str, list[float]], cfg: FlowConfig) -> None:
    rows = list(stats.values())
    pairs = sum(r[1] for r in rows)
    valid = sum(r[0] * r[1] for r in rows) / pairs if pairs else 1.0
    ctx.set_meta(
        valid_fraction=round(valid, 4),
        median_flow=round(float(np.median([r[2] for r in rows if r[1]] or [0.0])), 3),
        convention="flow[t] maps frame t to frame t-1; warp(frames[t-1], flow[t]) ~ frames[t]",
    )
    if pairs and valid < cfg.warn_valid:
        ctx.warn(
            f"Optical flow is consistent on only {100 * valid:.0f}% of pixels on average "
            "(fast motion, blur or occlusion); the temporal loss will use few pixels."
        )


def _check_config(cfg: FlowConfig) -> None:
    if not 0 <= cfg.finest_scale <= 4:
        raise InputError(f"flow.finest_scale {cfg.finest_scale} must be 0 to 4.")
    if cfg.patch_size < 4 or cfg.patch_stride < 1 or cfg.patch_stride > cfg.patch_size:
        raise InputError(
            f"flow.patch_size {cfg.patch_size} / patch_stride {cfg.patch_stride}: need "
            "patch_size >= 4 and 1 <= patch_stride <= patch_size."
        )
    if cfg.descent_iters < 1 or cfg.refine_iters < 0 or cfg.workers < 1:
        raise InputError("flow.descent_iters and flow.workers must be >= 1, refine_iters >= 0.")
