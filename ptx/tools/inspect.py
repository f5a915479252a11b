"""Contact sheets: what the stages made of a video, in one picture to look at before training.

A sheet is a grid of cells, one per sampled frame; each cell shows that frame through
every available *panel* (the canonical frame with skeleton and mask outline, the mask
cut-out, the pose label, ...). Frames where the person was not found are always among the
samples and labelled in red.

Cells follow the canonical frame's shape: every panel is a ``tile`` = (th, tw) picture with
the canonical aspect and ``--tile`` pixels on its long side (square before the crop stage
has run), so a portrait video gives portrait tiles.

Adding a panel means writing a function ``draw(arrays, t, tile) -> uint8 (th, tw, 3)``
and adding one :class:`Panel` to :data:`PANELS`; a panel is shown when every array it
``needs`` exists. Panels with ``per_frame=False`` (a background image) are drawn once, in a
cell of their own at the end (``t`` is then None).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ptx.body.skeleton import draw_skeleton_on
from ptx.cache.atomic import atomic_write_bytes
from ptx.cache.frame import canonical_frame, frame_shape
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError, StageError
from ptx.io.frames import is_frame_source
from ptx.pipeline.background import background_panel
from ptx.pipeline.flow import flow_panel
from ptx.pipeline.sources import label_of, source_digest

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_LABEL_H = 22
_MAX_WIDTH = 2400


class Arrays:
    """Read access to one video's arrays for panels, one frame at a time (cached)."""

    def __init__(self, store: VideoStore) -> None:
        self.store = store
        self._names = set(store.arrays())
        self._cache: dict[tuple[str, int | None], np.ndarray] = {}

    def has(self, name: str) -> bool:
        return name in self._names

    def frame(self, name: str, t: int) -> np.ndarray:
        """Frame ``t`` of time array ``name``."""
        key = (name, t)
        if key not in self._cache:
            self._cache[key] = self.store.read(name, t, t + 1)[0]
        return self._cache[key]

    def whole(self, name: str) -> np.ndarray:
        """All of array ``name`` (for small or per-video arrays)."""
        key = (name, None)
        if key not in self._cache:
            self._cache[key] = self.store.read(name)
        return self._cache[key]

    def length(self) -> int:
        for name in ("frames", "frames_analysis", "person_found"):
            if self.has(name):
                return int(self.store.open_array(name).shape[0])
        return 0


# --- drawing helpers -----------------------------------------------------------------


Tile = tuple[int, int]
"""A panel's (height, width) in pixels."""


def fit_tile(image: np.ndarray, tile: int | Tile) -> tuple[np.ndarray, float, tuple[int, int]]:
    """``image`` uint8 (H, W, 3) shrunk or enlarged into a black ``tile`` (th, tw) (or a
    square's side), centred, keeping its aspect. Returns the tile, the scale and the (x, y)
    offset of the image in it."""
    th, tw = (tile, tile) if isinstance(tile, int) else tile
    h, w = image.shape[:2]
    s = min(th / h, tw / w)
    nw, nh = min(tw, max(1, round(w * s))), min(th, max(1, round(h * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    out = np.zeros((th, tw, 3), np.uint8)
    x, y = (tw - nw) // 2, (th - nh) // 2
    out[y : y + nh, x : x + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return out, s, (x, y)


def _scaled(keypoints: np.ndarray, s: float, offset: tuple[int, int]) -> np.ndarray:
    kp = np.array(keypoints, dtype=np.float64)
    kp[:, :2] = kp[:, :2] * s + offset
    return kp


def outline(image: np.ndarray, prob: np.ndarray, colour=(255, 64, 255)) -> np.ndarray:
    """Draw the 50% contour of ``prob`` uint8 (H, W) (0..255) on ``image``, in place."""
    contours, _ = cv2.findContours(
        (prob >= 128).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    cv2.drawContours(image, contours, -1, colour, max(1, image.shape[0] // 256), cv2.LINE_AA)
    return image


def _overlay(frame: np.ndarray, kp: np.ndarray, prob: np.ndarray | None, tile: Tile) -> np.ndarray:
    if prob is not None and prob.any():
        frame = outline(frame.copy(), prob)
    out, s, off = fit_tile(frame, tile)
    draw_skeleton_on(out, _scaled(kp, s, off), max(1, max(tile) // 128))
    return out


# --- the panels ----------------------------------------------------------------------


def draw_extracted(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    """The analysis frame as extracted."""
    return fit_tile(arrays.frame("frames_analysis", t), tile)[0]


def draw_analysis(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    """The analysis frame with the keypoints stage's skeleton and segmentation."""
    seg = arrays.frame("segmentation_analysis", t) if arrays.has("segmentation_analysis") else None
    frame = arrays.frame("frames_analysis", t)
    return _overlay(frame, arrays.frame("keypoints_analysis", t), seg, tile)


def draw_canonical(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    """The canonical frame with the skeleton and the mask's outline."""
    mask = arrays.frame("mask", t) if arrays.has("mask") else None
    return _overlay(arrays.frame("frames", t), arrays.frame("keypoints", t), mask, tile)


def draw_cutout(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    """The canonical frame seen through the mask, over dark blue."""
    frame = arrays.frame("frames", t).astype(np.float32)
    alpha = arrays.frame("mask", t).astype(np.float32)[..., None] / 255.0
    back = np.array([20, 30, 90], np.float32)
    return fit_tile((frame * alpha + back * (1 - alpha)).astype(np.uint8), tile)[0]


def draw_poselabel(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    return fit_tile(arrays.frame("poselabel", t), tile)[0]


def draw_iuv(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    """Body parts in distinct colours, with a checker of U, V (smooth inside each part)."""
    iuv = arrays.frame("iuv", t)
    part = iuv[..., 0].astype(np.int32)
    colours = cv2.applyColorMap((part * 10).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    checker = ((iuv[..., 1] // 32).astype(int) + (iuv[..., 2] // 32).astype(int)) % 2
    shade = np.where(part > 0, 0.7 + 0.3 * checker, 0.0)[..., None]
    return fit_tile((colours * shade).astype(np.uint8), tile)[0]


def draw_label3d(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    return fit_tile(arrays.frame("label3d", t), tile)[0]


def draw_background(arrays: Arrays, t: int | None, tile: Tile) -> np.ndarray:
    """The estimated background; never-seen (inpainted) pixels hatched."""
    return background_panel(arrays.whole("background"), arrays.whole("background_seen"), tile)


def draw_flow(arrays: Arrays, t: int, tile: Tile) -> np.ndarray:
    return flow_panel(arrays.frame("flow", t), arrays.frame("flow_valid", t), tile)


@dataclass(frozen=True)
class Panel:
    """One kind of picture in a contact sheet's cells."""

    name: str
    stage: str
    """The stage whose output it shows (``ptx inspect --stage``)."""
    needs: tuple[str, ...]
    draw: Callable[[Arrays, int | None, Tile], np.ndarray]
    per_frame: bool = True
    hidden_by: tuple[str, ...] = field(default=())
    """Left out by default when any of these panels is shown (it would repeat them)."""


PANELS: tuple[Panel, ...] = (
    Panel("extract", "extract", ("frames_analysis",), draw_extracted,
          hidden_by=("keypoints", "frame")),
    Panel("keypoints", "keypoints", ("frames_analysis", "keypoints_analysis"), draw_analysis,
          hidden_by=("frame",)),
    Panel("frame", "crop", ("frames", "keypoints"), draw_canonical),
    Panel("mask", "mask", ("frames", "mask"), draw_cutout),
    Panel("poselabel", "poselabel", ("poselabel",), draw_poselabel),
    Panel("iuv", "iuv", ("iuv",), draw_iuv),
    Panel("label3d", "label3d", ("label3d",), draw_label3d),
    Panel("flow", "flow", ("flow", "flow_valid"), draw_flow),
    Panel("background", "background", ("background", "background_seen"), draw_background,
          per_frame=False),
)  # fmt: skip
"""Every panel, in the order a cell shows them."""


def choose_panels(arrays: Arrays, stage: str | None = None) -> list[Panel]:
    """The panels to draw: those of ``stage``, or by default every available one that no
    other shown panel makes redundant."""
    ready = [p for p in PANELS if all(arrays.has(n) for n in p.needs)]
    if stage is not None:
        ready = [p for p in ready if p.stage == stage]
        if not ready:
            known = sorted({p.stage for p in PANELS})
            raise InputError(
                f"Nothing to show for stage '{stage}' (not run yet, or it has no panel).",
                f"Stages with panels: {', '.join(known)}. Run `ptx prepare` first.",
            )
        return ready
    names = {p.name for p in ready}
    shown = [p for p in ready if not names.intersection(p.hidden_by)]
    if not shown:
        raise InputError("Nothing to show yet.", "Run `ptx prepare` on the video first.")
    return shown


def pick_frames(count: int, n: int, flagged: np.ndarray | None = None) -> list[int]:
    """``n`` frame indices spread evenly over ``count`` frames; up to a third of them are
    frames flagged as problems (``flagged`` bool (T,)), when there are any."""
    n = max(1, min(n, count))
    flagged_idx = np.flatnonzero(flagged) if flagged is not None else np.array([], int)
    n_bad = min(len(flagged_idx), max(1, n // 3))
    bad = flagged_idx[np.linspace(0, len(flagged_idx) - 1, n_bad).round().astype(int)]
    rest = np.setdiff1d(np.arange(count), bad)
    even = rest[np.linspace(0, len(rest) - 1, n - n_bad).round().astype(int)]
    return sorted(int(i) for i in (*even, *bad))


def _label(width: int, text: str, colour=(230, 230, 230)) -> np.ndarray:
    band = np.full((_LABEL_H, width, 3), 32, np.uint8)
    cv2.putText(band, text, (6, _LABEL_H - 7), _FONT, 0.5, colour, 1, cv2.LINE_AA)
    return band


def _cell(arrays: Arrays, panels: list[Panel], t: int | None, tile: Tile, missed: bool):
    tiles = [p.draw(arrays, t, tile) for p in panels]
    body = np.concatenate(tiles, axis=1)
    text = ", ".join(p.name for p in panels) if t is None else f"frame {t}"
    if missed:
        text += "  NO PERSON FOUND"
    colour = (255, 80, 80) if missed else (230, 230, 230)
    return np.concatenate([_label(body.shape[1], text, colour), body])


def contact_sheet(
    store: VideoStore,
    stage: str | None = None,
    n_frames: int = 12,
    tile: int = 256,
    title: str = "",
) -> np.ndarray:
    """The contact sheet of one prepared video: uint8 (H, W, 3) RGB (module docstring)."""
    arrays = Arrays(store)
    panels = choose_panels(arrays, stage)
    count = arrays.length()
    if count == 0:
        raise StageError(f"Video {store.video_id} has no frames yet.", "Run `ptx prepare` on it.")
    found = arrays.whole("person_found").astype(bool) if arrays.has("person_found") else None
    frames = pick_frames(count, n_frames, None if found is None else ~found)
    per_frame = [p for p in panels if p.per_frame]
    shape = tile_shape(arrays, tile)
    cells = []
    if per_frame:
        for t in frames:
            cells.append(_cell(arrays, per_frame, t, shape, found is not None and not found[t]))
    once = [p for p in panels if not p.per_frame]
    if once:
        cells.append(_cell(arrays, once, None, shape, False))
    cell_w = max(c.shape[1] for c in cells)
    cols = max(1, min(len(cells), _MAX_WIDTH // cell_w))
    rows = []
    for r in range(0, len(cells), cols):
        row = [np.pad(c, ((0, 0), (0, cell_w - c.shape[1]), (0, 0))) for c in cells[r : r + cols]]
        row += [np.zeros_like(row[0])] * (cols - len(row))
        rows.append(np.concatenate(row, axis=1))
    grid = np.concatenate(rows, axis=0)
    head = title or f"video {store.video_id}"
    if arrays.has("frames"):
        frame = canonical_frame(store)
        head += f"  |  canonical {frame.width}x{frame.height}"
        head += (
            f", {frame.padded_fraction:.0%} padding" if frame.padded_fraction else ", no padding"
        )
    if found is not None:
        head += f"  |  person found in {int(found.sum())}/{count} frames ({found.mean():.0%})"
    head += f"  |  panels: {', '.join(p.name for p in panels)}"
    return np.concatenate([_label(grid.shape[1], head), grid])


def tile_shape(arrays: Arrays, tile: int) -> Tile:
    """Panel (H, W): the canonical frame's aspect with ``tile`` on its long side (square
    before the crop stage has run)."""
    if not arrays.has("frames"):
        return tile, tile
    shape = arrays.store.open_array("frames").shape
    return frame_shape((int(shape[1]), int(shape[2])), tile, 1)


def write_png(path: Path, image: np.ndarray) -> Path:
    """Write ``image`` uint8 (H, W, 3) RGB as a PNG (folders created as needed), whole or
    not at all (a full disk raises DiskFullError and leaves no partial file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"Cannot encode the contact sheet for {path}.")
    atomic_write_bytes(path, png.tobytes())
    return path


def resolve_videos(ws: Workspace, target: str) -> list[tuple[str, str]]:
    """``target`` (a video file or frame folder, a subject name or a video id) ->
    [(label, video id)]."""
    path = Path(target).expanduser()
    names = ws.subject_names()
    named = target in ws.video_ids() or target in names
    if path.is_file() or (is_frame_source(path) and not named):
        vid = (source_digest(path, ws) or "")[:16]
        if vid not in ws.video_ids():
            raise InputError(
                f"{label_of(path).name} has not been prepared in {ws.root}.",
                f"Run `ptx prepare {target}` first (or pass --workspace).",
            )
        return [(label_of(path).stem, vid)]
    if target in ws.video_ids():
        return [(target, target)]
    if target in names:
        return [(target, vid) for vid in ws.subject(target)["videos"]]
    raise InputError(
        f"No video file, subject or video id named {target!r} in {ws.root} "
        f"(subjects: {', '.join(names) or 'none yet'}).",
        "Give a prepared video's path or a subject name.",
    )
