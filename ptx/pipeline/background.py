"""Stage ``background``: the static background behind the person, from the frames themselves.

With a static camera nearly every background pixel is uncovered in some frame, so no
inpainting network is needed: per pixel, the stage takes the median colour over the frames
where the pixel is confidently not the person (person mask above ``person_threshold``,
dilated by ``dilate`` of the frame side, is left out) and inpaints only the pixels no frame
uncovered (OpenCV Telea).

Bounded memory, resumable: the video is cut into blocks of ``block_frames`` frames. Each
block gives an exact masked median and a count per pixel, stored as one time chunk of
``background_blocks`` / ``background_blocks_seen``, so an interrupted run resumes at the
first block not written. The background is the count-weighted median of the block medians
(the median of the multiset in which each block's median stands for every frame of the block
that saw the pixel): robust at both levels, and for a static background equal to the global
median up to noise. Memory: one block of frames (64 x 512 x 512 x 3 = 50 MB at 512 px) plus
at most ``max_blocks`` block medians (1.3 MB each at 512 px), whatever the video's length.

Camera checks (ptx assumes a static camera): global translation by phase correlation, with
the person replaced by the block's background, between consecutive frames and between the
first and last frame of each block; and between each block's median and the final
background, plus their mean colour difference (lighting changes).

Outputs: ``background`` uint8 (H, W, 3); ``background_seen`` int32 (H, W), the frames in
which each pixel was visible (0 = inpainted). Meta: ``BackgroundReport`` fields.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from ptx.errors import InputError
from ptx.pipeline.stage import Stage, StageContext

MAX_BLOCK = 255
"""Most frames per block (the per-block counts are uint8)."""


@dataclass
class BackgroundConfig:
    person_threshold: float = 0.1
    """Person probability above which a pixel counts as the person (before dilation)."""
    dilate: float = 0.02
    """Grow the person region by this fraction of the frame side (hair, blur, mask error)."""
    block_frames: int = 64
    """Frames per block (the unit of work and of resume); 1 to 255."""
    max_blocks: int = 128
    """Blocks grow beyond ``block_frames`` for long videos so there are at most this many."""
    inpaint_radius: int = 5
    """Neighbourhood (pixels) of OpenCV's Telea inpainting of never-seen pixels."""
    warn_unseen: float = 0.03
    """Warn when more than this fraction of pixels was never seen (and was inpainted)."""
    warn_shift: float = 2.0
    """Warn when the background seems to move by more than this many pixels."""
    warn_change: float = 12.0
    """Warn when a block's background differs from the final one by more than this mean
    absolute difference (0-255 levels): a lighting change or a moved camera."""


@dataclass
class BlockResult:
    """One block's contribution: masked median, counts, and in-block camera motion."""

    median: np.ndarray
    """uint8 (H, W, 3); 0 where the block never saw the pixel."""
    seen: np.ndarray
    """uint16 (H, W): frames of the block in which the pixel was visible."""
    consecutive_shift: float
    """Translation (px) between the block's first two frames, person removed."""
    span_shift: float
    """Translation (px) between the block's first and last frames, person removed."""


@dataclass
class BackgroundReport:
    """How good the background is; stored as the stage's meta."""

    frames: int = 0
    blocks: int = 0
    block_frames: int = 0
    never_seen_pixels: int = 0
    never_seen_fraction: float = 0.0
    seen_median: float = 0.0
    """Median over pixels of the frames that saw the pixel."""
    max_consecutive_shift: float = 0.0
    """Largest translation (px) between consecutive frames (first pair of each block)."""
    max_span_shift: float = 0.0
    """Largest translation (px) between the first and last frame of a block."""
    max_drift_shift: float = 0.0
    """Largest translation (px) between a block's median and the final background."""
    max_change: float = 0.0
    """Largest mean absolute difference (levels) between a block's median and the final
    background, over the pixels the block saw."""
    block_starts: list[int] = field(default_factory=list)
    drift_shifts: list[float] = field(default_factory=list)
    changes: list[float] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- the algorithm, on plain arrays --------------------------------------------------------


def visible_background(mask: np.ndarray, threshold: float, radius: int) -> np.ndarray:
    """Pixels confidently not the person.

    mask: uint8 (T, H, W), person probability x 255. Returns uint8 (T, H, W), 255 where no
    pixel within ``radius`` (square neighbourhood) has a probability above ``threshold``.
    """
    level = min(254, round(threshold * 255))
    if radius <= 0:
        return np.where(mask <= level, np.uint8(255), np.uint8(0))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * radius + 1, 2 * radius + 1))
    out = np.empty(mask.shape, np.uint8)
    for t in range(len(mask)):
        # the largest probability nearby is above the level exactly when the dilated
        # person region covers the pixel
        cv2.compare(cv2.dilate(mask[t], kernel), level, cv2.CMP_LE, dst=out[t])
    return out


def process_block(frames: np.ndarray, mask: np.ndarray, cfg: BackgroundConfig) -> BlockResult:
    """Masked median and motion checks of one block.

    frames: uint8 (n, H, W, 3), mask: uint8 (n, H, W) person probability x 255, n <= 255.
    """
    from ptx.pipeline.background_median import block_median  # numba: loaded when used

    _check_block(frames, mask)
    radius = round(cfg.dilate * max(frames.shape[1:3]))
    visible = visible_background(mask, cfg.person_threshold, radius)
    median, seen = block_median(frames, visible)
    first = _without_person(frames[0], visible[0], median)
    cons = span = 0.0
    if len(frames) > 1:
        cons = global_shift(first, _without_person(frames[1], visible[1], median))
        span = global_shift(first, _without_person(frames[-1], visible[-1], median))
    return BlockResult(median, seen, cons, span)


def combine_blocks(
    medians: np.ndarray, seen: np.ndarray, cfg: BackgroundConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The background from block results.

    medians: uint8 (B, H, W, 3); seen: uint16 (B, H, W). Returns the background uint8
    (H, W, 3) with never-seen pixels inpainted, the total counts int32 (H, W), and per block
    the translation (px) and the mean absolute difference to the background, float (B,).
    """
    from ptx.pipeline.background_median import weighted_median

    background, total = weighted_median(medians, seen)
    holes = total == 0
    if holes.any() and not holes.all():
        background = cv2.inpaint(
            background, holes.view(np.uint8), cfg.inpaint_radius, cv2.INPAINT_TELEA
        )
    drift = np.zeros(len(medians))
    change = np.zeros(len(medians))
    for b in range(len(medians)):
        saw = seen[b] > 0
        if not saw.any():
            continue
        filled = np.where(saw[..., None], medians[b], background)
        drift[b] = global_shift(background, filled)
        diff = np.abs(medians[b].astype(np.int16) - background.astype(np.int16))
        change[b] = float(diff[saw].mean())
    return background, total, drift, change


def summarize(
    medians: np.ndarray,
    seen: np.ndarray,
    motion: list[tuple[float, float]],
    starts: list[int],
    frames: int,
    cfg: BackgroundConfig,
) -> tuple[np.ndarray, np.ndarray, BackgroundReport]:
    """Background, counts and report from all blocks: medians uint8 (B, H, W, 3), seen
    uint16 (B, H, W), (consecutive, span) shifts and first frame of each block."""
    background, total, drift, change = combine_blocks(medians, seen, cfg)
    never = int((total == 0).sum())
    report = BackgroundReport(
        frames=frames,
        blocks=len(medians),
        block_frames=(starts[1] - starts[0]) if len(starts) > 1 else frames,
        never_seen_pixels=never,
        never_seen_fraction=round(never / total.size, 6),
        seen_median=float(np.median(total)),
        max_consecutive_shift=_round(max(m[0] for m in motion)),
        max_span_shift=_round(max(m[1] for m in motion)),
        max_drift_shift=_round(float(drift.max())),
        max_change=_round(float(change.max())),
        block_starts=list(starts),
        drift_shifts=[_round(v) for v in drift],
        changes=[_round(v) for v in change],
    )
    report.warnings = _warnings(report, motion, drift, starts, cfg)
    return background, total, report


def estimate_background(
    frames_chunks: Iterable[np.ndarray],
    mask_chunks: Iterable[np.ndarray],
    config: BackgroundConfig | None = None,
) -> tuple[np.ndarray, np.ndarray, BackgroundReport]:
    """The background of a static-camera video, given block by block.

    frames_chunks: uint8 (n, H, W, 3) blocks; mask_chunks: the matching uint8 (n, H, W)
    person probability x 255 (n <= 255 per block). Returns background uint8 (H, W, 3),
    seen int32 (H, W) (frames that saw each pixel; 0 = inpainted) and a report whose
    ``warnings`` say when many pixels were never seen or the camera seems to move.
    """
    cfg = config or BackgroundConfig()
    results: list[BlockResult] = []
    starts: list[int] = []
    n = 0
    for frames, mask in zip(frames_chunks, mask_chunks, strict=True):
        starts.append(n)
        results.append(process_block(frames, mask, cfg))
        n += len(frames)
    if not results:
        raise InputError("No frames given to estimate a background from.")
    medians = np.stack([r.median for r in results])
    seen = np.stack([r.seen for r in results])
    motion = [(r.consecutive_shift, r.span_shift) for r in results]
    return summarize(medians, seen, motion, starts, n, cfg)


def global_shift(a: np.ndarray, b: np.ndarray, max_side: int = 256) -> float:
    """Length (pixels of ``a``) of the translation that aligns ``b`` to ``a``: phase
    correlation on grey images shrunk to ``max_side``, kept only when undoing it makes the
    images clearly more alike (local changes on a plain wall can move the correlation peak
    without any camera motion); 0.0 otherwise. a, b: uint8 (H, W, 3)."""
    h, w = a.shape[:2]
    s = min(1.0, max_side / max(h, w))
    size = (max(8, round(w * s)), max(8, round(h * s)))

    def grey(img: np.ndarray) -> np.ndarray:
        g = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return cv2.resize(g, size, interpolation=cv2.INTER_AREA)

    ga, gb = grey(a), grey(b)
    window = cv2.createHanningWindow(size, cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(ga.copy(), gb.copy(), window)  # it windows in place
    m = int(math.ceil(max(abs(dx), abs(dy)))) + 1
    if 2 * m >= min(size):
        return 0.0
    back = cv2.warpAffine(gb, np.float32([[1, 0, -dx], [0, 1, -dy]]), size)
    before = np.abs(ga - gb)[m:-m, m:-m].mean()
    after = np.abs(ga - back)[m:-m, m:-m].mean()
    return float(math.hypot(dx, dy) / s) if after < 0.8 * before else 0.0


def background_panel(
    background: np.ndarray, seen: np.ndarray, tile: int | tuple[int, int]
) -> np.ndarray:
    """The background for ``ptx inspect``: uint8 (th, tw, 3) for ``tile`` (th, tw) (or a
    square's side), never-seen (inpainted) pixels hatched in magenta. background: uint8
    (H, W, 3); seen: int (H, W)."""
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    size = (tw, th)
    img = cv2.resize(background, size, interpolation=cv2.INTER_AREA)
    holes = cv2.resize((seen == 0).astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    yy, xx = np.mgrid[0:th, 0:tw]
    hatch = holes & (((xx + yy) // 3) % 3 == 0)
    img[hatch] = (img[hatch] // 2 + np.array([127, 0, 127], np.uint8)).astype(np.uint8)
    return img


# --- the stage ------------------------------------------------------------------------------


class BackgroundStage(Stage):
    name = "background"
    version = 1
    Config = BackgroundConfig
    inputs = ("frames", "mask")
    outputs = ("background", "background_seen", "background_blocks", "background_blocks_seen")

    @classmethod
    def preload(cls, config: BackgroundConfig) -> tuple[str, ...]:
        return ("ptx.pipeline.background_median",)

    @classmethod
    def check(cls, config: BackgroundConfig) -> None:
        _check_config(config)

    def run(self, ctx: StageContext) -> None:
        cfg: BackgroundConfig = ctx.config
        frames = ctx.store.open_array("frames")
        mask = ctx.store.open_array("mask")
        t, h, w = frames.shape[:3]
        if tuple(mask.shape) != (t, h, w):
            raise InputError(
                f"mask has shape {tuple(mask.shape)}, frames {tuple(frames.shape)}: they must "
                "cover the same frames at the same size.",
                "Re-run `ptx prepare --force mask`.",
            )
        size = block_size(t, frames.chunks[0], cfg)
        starts = list(range(0, t, size))
        ctx.create_array("background_blocks", (len(starts), h, w, 3), np.uint8, chunk_frames=1)
        ctx.create_array("background_blocks_seen", (len(starts), h, w), np.uint16, chunk_frames=1)
        # all outputs exist before the first commit: creating one later would restart a resume
        ctx.create_array("background", (h, w, 3), np.uint8, time_axis=False)
        ctx.create_array("background_seen", (h, w), np.int32, time_axis=False)
        motion: dict[str, list[float]] = dict(ctx.record.meta.get("block_motion", {}))

        def read(i: int) -> tuple[np.ndarray, np.ndarray]:
            a, b = starts[i], min(t, starts[i] + size)
            return ctx.read("frames", a, b), ctx.read("mask", a, b)

        todo = ctx.pending(len(starts), total_frames=t)
        with ThreadPoolExecutor(1, thread_name_prefix="ptx-read") as reader:
            # the next block is read and decompressed while this one is computed
            nxt = reader.submit(read, todo[0]) if todo else None
            for k, i in enumerate(todo):
                block_frames, block_mask = nxt.result()
                if k + 1 < len(todo):
                    nxt = reader.submit(read, todo[k + 1])
                res = process_block(block_frames, block_mask, cfg)
                self._keep(ctx, i, res, motion, len(block_frames))
        medians = ctx.store.read("background_blocks")
        seen = ctx.store.read("background_blocks_seen")
        shifts = [tuple(motion[str(i)]) for i in range(len(starts))]
        background, total, report = summarize(medians, seen, shifts, starts, t, cfg)
        ctx.store.group["background"][...] = background
        ctx.store.group["background_seen"][...] = total
        ctx.set_meta(**dataclasses.asdict(report))
        for message in report.warnings:
            ctx.warn(message)

    @staticmethod
    def _keep(ctx: StageContext, i: int, res: BlockResult, motion: dict, frames: int) -> None:
        """Store block ``i``'s result and commit it."""
        ctx.store.write("background_blocks", i, res.median[None])
        ctx.store.write("background_blocks_seen", i, res.seen[None])
        motion[str(i)] = [res.consecutive_shift, res.span_shift]
        ctx.set_meta(block_motion=motion)
        ctx.commit(i, frames=frames)


def block_size(frames: int, chunk: int, cfg: BackgroundConfig) -> int:
    """Frames per block: ``block_frames``, grown so there are at most ``max_blocks`` blocks,
    a multiple of the input's time chunk when possible, at most 255."""
    size = max(cfg.block_frames, -(-frames // max(1, cfg.max_blocks)))
    if size >= chunk:
        size = -(-size // chunk) * chunk
        if size > MAX_BLOCK:
            size = (MAX_BLOCK // chunk) * chunk or MAX_BLOCK
    return min(size, MAX_BLOCK)


def _check_config(cfg: BackgroundConfig) -> None:
    if not 0 < cfg.person_threshold < 1:
        raise InputError(f"background.person_threshold {cfg.person_threshold} must be in (0, 1).")
    if not 0 <= cfg.dilate < 0.5:
        raise InputError(f"background.dilate {cfg.dilate} must be in [0, 0.5).")
    if not 1 <= cfg.block_frames <= MAX_BLOCK:
        raise InputError(f"background.block_frames {cfg.block_frames} must be 1 to {MAX_BLOCK}.")
    if cfg.max_blocks < 1:
        raise InputError(f"background.max_blocks {cfg.max_blocks} must be at least 1.")


def _check_block(frames: np.ndarray, mask: np.ndarray) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"frames must be uint8 (n, H, W, 3), got {frames.dtype} {frames.shape}.")
    if mask.shape != frames.shape[:3] or mask.dtype != np.uint8:
        raise InputError(
            f"mask must be uint8 {frames.shape[:3]} to match the frames, got "
            f"{mask.dtype} {mask.shape}."
        )
    if not 1 <= len(frames) <= MAX_BLOCK:
        raise InputError(f"A block holds 1 to {MAX_BLOCK} frames, got {len(frames)}.")


def _without_person(frame: np.ndarray, visible: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """frame uint8 (H, W, 3) with non-visible pixels (``visible`` 0) taken from ``fill``."""
    return np.where(visible[..., None] > 0, frame, fill)


def _round(v: float) -> float:
    return round(float(v), 3)


def _warnings(
    r: BackgroundReport,
    motion: list[tuple[float, float]],
    drift: np.ndarray,
    starts: list[int],
    cfg: BackgroundConfig,
) -> list[str]:
    out = []
    if r.never_seen_fraction > cfg.warn_unseen and r.frames == 1:
        out.append(
            f"One picture: {100 * r.never_seen_fraction:.1f}% of the background "
            f"({r.never_seen_pixels} pixels), behind the person, cannot be seen; it is an "
            "estimate (inpainted), expect a blurry patch there."
        )
    elif r.never_seen_fraction > cfg.warn_unseen:
        out.append(
            f"{100 * r.never_seen_fraction:.1f}% of the background ({r.never_seen_pixels} "
            "pixels) was hidden by the person in every frame and has been inpainted; expect "
            "a blurry patch there."
        )
    worst = max(
        [(m[0], "between consecutive frames", s) for m, s in zip(motion, starts, strict=True)]
        + [(m[1], "across a block", s) for m, s in zip(motion, starts, strict=True)]
        + [(d, "against the overall background", s) for d, s in zip(drift, starts, strict=True)]
    )
    if worst[0] > cfg.warn_shift:
        out.append(
            f"The camera seems to move: the background shifts by {worst[0]:.1f} px "
            f"{worst[1]} (near frame {worst[2]}); ptx assumes a static camera, so expect a "
            "blurred background."
        )
    if r.max_change > cfg.warn_change:
        block = r.changes.index(r.max_change)
        out.append(
            f"The background changes over the video (mean difference {r.max_change:.0f} "
            f"levels near frame {starts[block]}): changing light or a moving camera; ptx "
            "assumes a static background."
        )
    return out
