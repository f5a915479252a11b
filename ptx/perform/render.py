"""Rendering with a trained model of any method: load a run, stream pose conditions
through it, composite.

The conditions of a sequence come from a :class:`ConditionSource` (a subject's own
prepared arrays, or a retargeted source video) in chunks of frames in the target's
canonical frame (H, W); they are resized to the model's frame exactly as training resized
them, encoded by the method's pose encoding (the same function training uses), stacked
over the method's frame window and rendered in batches. The streaming keeps the frames a window needs from
before a batch (context) and reads ahead the frames it needs after it (lookahead); a
method that feeds back its previous output gets its carried state across batches. At a
sequence's ends the nearest frame repeats, as in training. Memory does not grow with the
sequence's length.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import torch

from ptx.cache.checkpoints import load_checkpoint, resolve_checkpoint
from ptx.cache.frame import as_shape, frame_shape, same_aspect
from ptx.cache.runs import latest_run, list_runs, read_run_config, runs_dir, subject_runs
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, validate_name
from ptx.devices import resolve_device, use_cpu_threads
from ptx.errors import DamagedError, InputError
from ptx.methods.base import Method, Renderer, RenderInputs, Window
from ptx.methods.registry import get_method
from ptx.nn.arrays import resize_array, resize_keypoints
from ptx.nn.poselabels import PoseEncoding, unit


@dataclass
class LoadedModel:
    """A trained renderer ready for inference."""

    method: Method
    cfg: Any
    renderer: Renderer
    encoding: PoseEncoding
    window: Window
    run_dir: Path
    checkpoint: Path
    step: int
    device: torch.device
    videos: list[dict]
    """The training videos (their order is the order of the learned backgrounds)."""
    frame: tuple[int, int] = (0, 0)
    """The run's frame (H, W): what the model renders."""
    canonical: tuple[int, int] = (0, 0)
    """The canonical frame (H, W) of the subject it trained on (the aspect of its output)."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about the loading (a damaged checkpoint skipped, ...)."""

    @property
    def size(self) -> int:
        """The frame's long side (``cfg.size``)."""
        return int(self.cfg.size)

    def output_shape(self, long_side: int | None = None) -> tuple[int, int]:
        """(H, W) of a written result: the subject's canonical aspect with ``long_side``
        (default the model's) on its long side, both sides even (for the video encoder).
        A square model gives its own square frame."""
        return frame_shape(self.canonical, long_side or max(self.frame), 2)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Per-frame conditions the model reads: its encoding's, then its renderer's."""
        own = self.method.render_arrays(self.cfg)
        return tuple(dict.fromkeys((*self.encoding.arrays, *own)))


def resolve_run(
    ws: Workspace, subject: str, run: str | Path | None = None, method: str | None = None
) -> Path:
    """The run folder: ``run`` as a path or a run name under the subject's runs (of
    ``method``, or of any method), else the newest run with a checkpoint."""
    validate_name(subject)
    wanted = get_method(method).name if method is not None else None
    if run is not None:
        names = [wanted] if wanted else [r.method for r in list_runs(ws, subject, None, False)]
        for cand in (Path(run), *(runs_dir(ws, subject, m) / str(run) for m in names)):
            if cand.is_dir():
                return cand
        raise InputError(
            f"No run {run} for subject '{subject}'.",
            f"See the runs in {subject_runs(ws, subject)}, or leave --run out for the newest.",
        )
    found = latest_run(ws, subject, wanted)
    if found is None:
        which = f" {wanted}" if wanted else ""
        raise InputError(
            f"Subject '{subject}' has no trained{which} run in {ws.root}.",
            f"Train one first: ptx train --subject {subject}"
            + (f" --method {wanted}" if wanted else ""),
        )
    return found


def load_model(run_dir: Path, device: str = "auto") -> LoadedModel:
    """Load the run's newest checkpoint (as data only) into an eval-mode renderer."""
    ckpt, notes = resolve_checkpoint(Path(run_dir) / "checkpoints")
    if ckpt is None:
        raise InputError(f"Run {run_dir} has no checkpoint yet.", "Let `ptx train` finish a step.")
    data = load_checkpoint(ckpt)
    method = get_method(data.get("method", "d2g"))
    cfg = method.config_from_dict(data["config"])
    dev = resolve_device(device)
    if dev.type == "cpu":
        use_cpu_threads()
    frame = as_shape(tuple(data.get("frame") or (cfg.size, cfg.size)))  # old runs: square
    canonical = as_shape(tuple(data.get("canonical") or frame))
    renderer = method.build_renderer(cfg, data["trainer"], dev, frame)
    try:
        videos = read_run_config(run_dir).get("videos", [])
    except DamagedError as exc:
        videos = (data.get("meta") or {}).get("videos", [])
        notes.append(f"{exc.message} The checkpoint's own copy of the settings was used.")
    except InputError:
        videos = []
    return LoadedModel(
        method, cfg, renderer, method.encoding(cfg, frame), method.window(cfg), Path(run_dir), ckpt,
        int(data.get("step", 0)), dev, videos, frame, canonical, notes,
    )  # fmt: skip


class ConditionSource(Protocol):
    """Per-frame conditions of a sequence, in frames of one (H, W)."""

    shape: tuple[int, int]
    """(H, W) of its frames in pixels (the target's canonical frame)."""

    def __len__(self) -> int: ...

    def chunk(self, start: int, stop: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The arrays ``names`` for frames [start, stop): images uint8 (n, H, W[, C]) (e.g.
        ``poselabel``, ``label3d``, ``iuv``), ``keypoints`` float (n, K, 3) in pixels."""
        ...


class StoreConditions:
    """Conditions read from a prepared video's store (a subject's own frames)."""

    def __init__(self, store: VideoStore, start: int = 0, stop: int | None = None) -> None:
        self.store = store
        frames = store.open_array("frames")
        total = frames.shape[0]
        self.shape = (int(frames.shape[1]), int(frames.shape[2]))
        self.start, self.stop = start, total if stop is None else min(stop, total)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def chunk(self, start: int, stop: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        a, b = self.start + start, self.start + stop
        missing = [n for n in names if not self.store.has(n)]
        if missing:
            raise InputError(
                f"Video {self.store.video_id} has no '{missing[0]}' array, which this model reads.",
                "Run `ptx prepare` on it until every stage is complete.",
            )
        return {n: self.store.read(n, a, b) for n in names}


@dataclass
class RenderedChunk:
    start: int
    rgb: np.ndarray
    """uint8 (n, H, W, 3) at the model's frame: the composite (or the foreground when
    rendering with alpha)."""
    alpha: np.ndarray
    """uint8 (n, H, W): person opacity x 255."""


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (n, C, H, W) in [-1, 1] -> uint8 (n, H, W, C)."""
    y = ((x.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)
    return y.permute(0, 2, 3, 1).cpu().numpy()


def _model_inputs(
    model: LoadedModel, got: dict[str, np.ndarray], src: tuple[int, int]
) -> dict[str, torch.Tensor]:
    """A chunk of conditions in the source's frame -> tensors at the model's, on its device."""
    out = {}
    for name, x in got.items():
        if name == "keypoints":
            out[name] = resize_keypoints(x, src, model.frame).to(model.device)
        else:
            out[name] = resize_array(name, x, model.frame).to(model.device)
    return out


@torch.inference_mode()
def render_conditions(
    model: LoadedModel,
    source: ConditionSource,
    background: np.ndarray | None = None,
    video: int = 0,
    batch: int = 8,
    foreground_only: bool = False,
    prefetch: bool | None = None,
) -> Iterator[RenderedChunk]:
    """Render every frame of ``source``, ``batch`` frames at a time (see the module
    docstring).

    ``background``: uint8 (H', W', 3) to composite over (resized to the model's frame), or None
    for the learned background of training video ``video``. With ``foreground_only`` the
    chunks carry the person's colours (for output with alpha) instead of the composite.
    ``prefetch`` computes the next chunk of conditions on a thread while the model renders
    (default: when the source computes its conditions, e.g. a retargeted motion)."""
    check_aspect(model, source.shape)
    n, win, enc = len(source), model.window, model.encoding
    own = model.method.render_arrays(model.cfg)
    bg = None
    if background is not None:
        bg = unit(resize_array("background", background[None], model.frame).to(model.device))
    encoded: dict[int, torch.Tensor] = {}  # frame -> its encoding (C, H, W)
    arrays: dict[int, dict[str, torch.Tensor]] = {}  # frame -> the renderer's own inputs
    loaded = 0
    state = model.renderer.start()
    reads = _ChunkReader(source, n, batch, win.after, model.inputs, prefetch)
    for start in range(0, n, batch):
        stop = min(start + batch, n)
        want = min(n, stop + win.after)
        if want > loaded:
            got = _model_inputs(model, reads.get(loaded, want), source.shape)
            codes = enc({k: got[k] for k in enc.arrays})
            for i in range(want - loaded):
                encoded[loaded + i] = codes[i]
                arrays[loaded + i] = {k: got[k][i] for k in own}
            loaded = want
        pose = torch.stack([
            torch.cat([encoded[min(max(t + o, 0), n - 1)] for o in win.offsets])
            for t in range(start, stop)
        ])  # fmt: skip
        own_inputs = {k: torch.stack([arrays[t][k] for t in range(start, stop)]) for k in own}
        vid = torch.full((stop - start,), video, dtype=torch.long, device=model.device)
        out, state = model.renderer(RenderInputs(pose, own_inputs, vid, bg), state)
        for t in [t for t in encoded if t < stop - win.before]:
            del encoded[t]
            arrays.pop(t, None)
        alpha = (out.alpha.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0].cpu().numpy()
        yield RenderedChunk(start, _to_uint8(out.fg if foreground_only else out.output), alpha)


class _ChunkReader:
    """The chunks ``render_conditions`` reads, in order; with ``prefetch`` the next one is
    computed on a thread while the caller renders the current one (the conditions of a
    retargeted motion are drawn and rasterised: NumPy, OpenCV and numba release the GIL)."""

    def __init__(self, source: ConditionSource, n: int, batch: int, after: int,
                 names: tuple[str, ...], prefetch: bool | None) -> None:  # fmt: skip
        self.source, self.names = source, names
        if prefetch is None:
            prefetch = getattr(source, "computed", False)
        ranges, loaded = [], 0
        for start in range(0, n, batch):
            want = min(n, min(start + batch, n) + after)
            if want > loaded:
                ranges.append((loaded, want))
                loaded = want
        self.ranges = ranges
        self.pool = (
            ThreadPoolExecutor(1, "ptx-conditions") if prefetch and len(ranges) > 1 else None
        )
        self.pending: dict[tuple[int, int], Future] = {}
        self._ahead(0)

    def _ahead(self, i: int) -> None:
        if self.pool is not None and i < len(self.ranges):
            a, b = self.ranges[i]
            self.pending[(a, b)] = self.pool.submit(self.source.chunk, a, b, self.names)

    def get(self, a: int, b: int) -> dict[str, np.ndarray]:
        fut = self.pending.pop((a, b), None)
        if fut is None:
            return self.source.chunk(a, b, self.names)
        i = self.ranges.index((a, b))
        got = fut.result()
        self._ahead(i + 1)
        if i + 1 >= len(self.ranges):
            self.pool.shutdown(wait=False)
        return got


def check_aspect(model: LoadedModel, shape: tuple[int, int]) -> None:
    """Raise InputError when conditions in frames of ``shape`` (H, W) do not have the
    aspect of the frames the model trained on (its subject was prepared again with another
    shape since)."""
    if not same_aspect(tuple(shape), model.canonical):
        (h, w), (mh, mw) = shape, model.canonical
        raise InputError(
            f"Run {model.run_dir.name} trained on {mw}x{mh} (W x H) frames, but these are "
            f"{w}x{h}: the subject's video was prepared again with another shape since.",
            f"Train a new run, or prepare the video again with --aspect {mw}:{mh}.",
        )


def render_fps(model: LoadedModel, source: ConditionSource, frames: int = 32) -> float:
    """Model-only render speed (frames/s) over the first ``frames`` frames."""
    n = min(frames, len(source))
    t0 = time.perf_counter()
    for _ in render_conditions(model, _Head(source, n)):
        pass
    return n / max(time.perf_counter() - t0, 1e-9)


class _Head:
    def __init__(self, source: ConditionSource, n: int) -> None:
        self.source, self.n, self.shape = source, n, source.shape

    def __len__(self) -> int:
        return self.n

    def chunk(self, start: int, stop: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        return self.source.chunk(start, stop, names)


def fit_image(img: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``img`` uint8 (h, w, C) resized to ``shape`` (H, W) (cubic when enlarging, area when
    shrinking); returned as is when it has that size."""
    h, w = shape
    if img.shape[:2] == (h, w):
        return img
    grow = h * w > img.shape[0] * img.shape[1]
    out = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC if grow else cv2.INTER_AREA)
    return out.reshape(h, w, *img.shape[2:])


def heldout_start(model: LoadedModel, video: str, count: int) -> int:
    """The first frame of ``video`` the model never trained on."""
    span = next((v for v in model.videos if v.get("video") == video), None)
    if span is not None:
        return int(span["heldout_frames"][0])
    return count - max(1, round(count * model.cfg.holdout))


@dataclass
class RenderResult:
    """What `ptx render` wrote."""

    output: Path
    frames: int
    fps: float
    """Frame rate of the video."""
    render_fps: float
    """Frames rendered (and encoded) per second."""
    run: Path
    notes: list[str]


class PickedConditions:
    """The frames ``indices`` (ascending) of another condition source, as a sequence."""

    def __init__(self, source: ConditionSource, indices: np.ndarray) -> None:
        self.source, self.indices, self.shape = source, np.asarray(indices), source.shape

    def __len__(self) -> int:
        return len(self.indices)

    def chunk(self, start: int, stop: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        idx = self.indices[start:stop]
        got = self.source.chunk(int(idx[0]), int(idx[-1]) + 1, names)
        return {k: v[idx - idx[0]] for k, v in got.items()}


def render_sequence_video(
    ws: Workspace,
    subject: str,
    output: Path,
    run: str | None = None,
    frames: str = "heldout",
    device: str = "auto",
    poses: str | None = None,
    fps: float | None = None,
    method: str | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> RenderResult:
    """Render a subject's own frames (``heldout``: the tail never trained on; ``all``) of
    its first video, or with ``poses`` a pose file (``ptx.perform.motion``: OpenPose,
    ComfyUI, COCO-17 or SMPL motion), into ``output`` (mp4). ``fps`` is the output rate
    (default: the pose file's own, else the subject's); ``start``/``end`` (seconds within
    the sequence) and ``max_frames`` trim it."""
    from ptx.io.writer import VideoWriter, check_output_path
    from ptx.perform.motion import frame_indices, pose_conditions

    if frames not in ("heldout", "all"):
        raise InputError(f"Unknown --frames {frames!r}.", "Use heldout or all.")
    if fps is not None and not 0 < fps <= 240:
        raise InputError(f"--fps {fps} is not possible.", "Give a rate from 0 to 240.")
    check_output_path(output)  # before any work
    run_dir = resolve_run(ws, subject, run, method)
    model = load_model(run_dir, device)
    videos = ws.subject(subject)["videos"]
    store = VideoStore(ws, videos[0])
    own_fps = float(store.meta("extract")["fps"])
    notes: list[str] = list(model.notes)
    if poses is not None:
        source, out_fps, pose_notes = pose_conditions(poses, store, fps, start, end, max_frames)
        notes += pose_notes
    else:
        n = store.open_array("frames").shape[0]
        first = heldout_start(model, videos[0], n) if frames == "heldout" else 0
        out_fps = float(fps or own_fps)
        idx = frame_indices(n - first, own_fps, out_fps, start, end, max_frames)
        source = PickedConditions(StoreConditions(store, first, n), idx)
    t0, count = time.perf_counter(), 0
    h, w = model.output_shape()
    with VideoWriter(output, out_fps, (w, h)) as writer:
        for chunk in render_conditions(model, source):
            for img in chunk.rgb:
                writer.write(fit_image(img, (h, w)))
                count += 1
    speed = count / max(time.perf_counter() - t0, 1e-9)
    return RenderResult(Path(output), count, out_fps, speed, run_dir, notes)


def render_subject(
    ws: Workspace,
    subject: str,
    output: Path,
    run: str | None = None,
    frames: str = "heldout",
    device: str = "auto",
    poses: str | None = None,
    pose_fps: float | None = None,
    method: str | None = None,
) -> tuple[Path, int, float]:
    """:func:`render_sequence_video` returning (path, frames, frames/s)."""
    res = render_sequence_video(ws, subject, output, run, frames, device, poses, pose_fps, method)
    return res.output, res.frames, res.render_fps
