"""Pictures for ``ptx score --report``: the challenging-pose strip and the per-frame PSNR plot.

Pure functions: arrays in, one PNG written (atomically; its folder created when missing) at
the given path, the path back.

- :func:`challenging_strip`: one row per frame, ``truth | output | error map``. The error
  map is the per-pixel mean absolute RGB difference, 0 (black) to :data:`ERROR_FULL_SCALE`
  grey levels or more (bright yellow), in matplotlib's "inferno" colours via OpenCV.
- :func:`psnr_plot`: per-frame PSNR over the held-out range, its mean, and the challenging
  frames marked.
- :func:`comparison_sheet`: several methods on the same held-out frames: their per-frame
  PSNR, and the challenging frames method by method (``ptx compare``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ptx.cache.atomic import atomic_write_bytes
from ptx.errors import InputError

ERROR_FULL_SCALE = 64.0
"""Mean absolute difference (0..255 scale) shown at full brightness in the error map."""


def _write(path: Path, data: bytes) -> Path:
    """Write ``data`` atomically, creating the folder (a report folder is made on demand)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"Cannot create the folder {path.parent}: {exc.strerror}.") from exc
    atomic_write_bytes(path, data)
    return path


def error_map(output: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) RGB picture of |output - truth|: uint8 (H, W, 3) inputs."""
    diff = np.abs(output.astype(np.int16) - truth.astype(np.int16)).mean(axis=2)
    level = np.clip(diff * (255.0 / ERROR_FULL_SCALE), 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _tile(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = size / max(h, w)
    if scale == 1.0:
        return image
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interp)


def _label(image: np.ndarray, text: str) -> None:
    """Draw ``text`` in the top-left corner, white on a dark box, in place."""
    scale = max(0.35, image.shape[0] / 700)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(image, (0, 0), (tw + 6, th + base + 6), (0, 0, 0), -1)
    cv2.putText(
        image, text, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
    )


def challenging_strip(
    truth: np.ndarray,
    output: np.ndarray,
    path: Path,
    labels: Sequence[str] | None = None,
    tile: int = 256,
) -> Path:
    """Write a PNG with one row per frame: ``truth | output | error map``.

    ``truth``, ``output``: uint8 (M, H, W, 3) RGB (e.g. the challenging frames);
    ``labels``: one caption per row (e.g. "frame 1234  d=1.8  29.1 dB"), drawn on the truth
    tile; ``tile``: the long side of each tile in pixels. Returns ``path``.
    """
    truth, output = np.asarray(truth), np.asarray(output)
    if truth.ndim != 4 or truth.shape[-1] != 3 or truth.dtype != np.uint8:
        raise InputError(f"truth is {truth.dtype} {truth.shape}; it must be uint8 (M, H, W, 3).")
    if output.shape != truth.shape or output.dtype != np.uint8:
        raise InputError(
            f"output is {output.dtype} {output.shape}; it must match truth, uint8 {truth.shape}."
        )
    if truth.shape[0] == 0:
        raise InputError("No frames to put in the strip.")
    if labels is not None and len(labels) != truth.shape[0]:
        raise InputError(f"{len(labels)} labels for {truth.shape[0]} frames; give one per frame.")
    rows = []
    for i in range(truth.shape[0]):
        tiles = [
            _tile(truth[i], tile),
            _tile(output[i], tile),
            _tile(error_map(output[i], truth[i]), tile),
        ]
        if labels is not None:
            tiles[0] = tiles[0].copy()
            _label(tiles[0], labels[i])
        rows.append(np.concatenate(tiles, axis=1))
    picture = np.concatenate(rows, axis=0)
    ok, png = cv2.imencode(".png", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"Could not encode the strip for {path} as PNG.")
    return _write(Path(path), png.tobytes())


def psnr_plot(
    psnr: np.ndarray,
    path: Path,
    frames: np.ndarray | None = None,
    highlight: np.ndarray | None = None,
    title: str = "Per-frame PSNR over the held-out frames",
) -> Path:
    """Write a PNG plot of per-frame PSNR.

    ``psnr``: float (T,) in dB (NaN gaps are left blank); ``frames``: int (T,) frame numbers
    for the x axis (default 0..T-1); ``highlight``: indices into ``psnr`` to mark (the
    challenging frames). Returns ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    psnr = np.asarray(psnr, dtype=np.float64)
    if psnr.ndim != 1 or psnr.size == 0:
        raise InputError(f"psnr has shape {psnr.shape}; it must be a non-empty (T,) array.")
    x = np.arange(psnr.size) if frames is None else np.asarray(frames)
    if x.shape != psnr.shape:
        raise InputError(f"frames has shape {x.shape}; it must match psnr {psnr.shape}.")
    fig = Figure(figsize=(8, 3), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(x, psnr, lw=1, color="tab:blue", label="PSNR")
    finite = psnr[np.isfinite(psnr)]
    if finite.size:
        ax.axhline(finite.mean(), ls="--", lw=1, color="grey", label=f"mean {finite.mean():.2f} dB")
    if highlight is not None and len(highlight):
        idx = np.asarray(highlight, dtype=np.int64)
        ax.scatter(x[idx], psnr[idx], s=18, color="tab:red", zorder=3, label="challenging poses")
    ax.set_xlabel("frame")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return _write(Path(path), buffer.getvalue())


def comparison_sheet(
    truth: np.ndarray,
    outputs: dict[str, np.ndarray],
    psnr: dict[str, np.ndarray],
    hard: np.ndarray,
    path: Path,
    labels: Sequence[str] | None = None,
    tile: int = 96,
    title: str = "Per-frame PSNR over the held-out frames",
) -> Path:
    """Write one PNG comparing methods on the same held-out frames: on top, each method's
    per-frame PSNR (challenging frames marked); below, the challenging frames ``hard`` one
    per row, ``truth | method 1 | method 2 | ...`` with the method's PSNR on each tile.

    ``truth``: uint8 (T, H, W, 3); ``outputs``: method -> uint8 (T, H, W, 3); ``psnr``:
    method -> float (T,) dB; ``hard``: indices into T (empty: the first 5 frames)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    truth = np.asarray(truth)
    if truth.ndim != 4 or truth.dtype != np.uint8 or not outputs:
        raise InputError("comparison_sheet needs uint8 (T, H, W, 3) frames and some outputs.")
    for name, out in outputs.items():
        if out.shape != truth.shape or len(psnr[name]) != len(truth):
            raise InputError(f"{name}: {out.shape} outputs / {len(psnr[name])} PSNRs for "
                             f"{truth.shape} frames.")  # fmt: skip
    idx = np.asarray(hard, dtype=np.int64)
    if idx.size == 0:
        idx = np.arange(min(5, len(truth)))
    names = list(outputs)
    rows = []
    for i in idx:
        tiles = [_tile(truth[i], tile).copy()]
        _label(tiles[0], labels[i] if labels is not None else f"frame {i}")
        for name in names:
            t = _tile(outputs[name][i], tile).copy()
            _label(t, f"{name} {psnr[name][i]:.1f}dB")
            tiles.append(t)
        rows.append(np.concatenate(tiles, axis=1))
    strip = np.concatenate(rows, axis=0)
    width = strip.shape[1]
    fig = Figure(figsize=(max(width, 480) / 100, 3), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name in names:
        values = np.asarray(psnr[name], dtype=np.float64)
        ax.plot(np.arange(len(values)), values, lw=1, label=f"{name} (mean {values.mean():.2f})")
    for i in idx:
        ax.axvline(i, color="grey", lw=0.5, alpha=0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("held-out frame (grey: challenging poses)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    canvas.draw()
    plot = np.asarray(canvas.buffer_rgba())[..., :3]
    full = max(width, plot.shape[1])
    pad = [np.pad(a, ((0, 0), (0, full - a.shape[1]), (0, 0)), constant_values=255)
           for a in (plot, strip)]  # fmt: skip
    ok, png = cv2.imencode(".png", cv2.cvtColor(np.concatenate(pad), cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"Could not encode the comparison for {path} as PNG.")
    return _write(Path(path), png.tobytes())
