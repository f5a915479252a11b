"""Read a subject's prepared arrays into :class:`~ptx.training.data.TrainData`.

The method says what it reads (:func:`needs`): the frames, its pose encoding's inputs, its
trainer's arrays, optionally ``flow`` + ``flow_valid`` (used when every video has them),
the per-video ``background`` and ``keypoints``. Every array of every video is read once,
time chunk by time chunk, from the videos' Zarr stores (or from numpy arrays in tests),
resized to the run's frame (``ptx.nn.arrays``: area for images and flow, nearest for IUV,
all-valid for flow validity) and kept as uint8/float16 tensors: on the GPU when they fit
in half its free memory, else in pinned host memory.

The run's frame (H, W) is :meth:`Method.frame` of the first video's canonical frame
(``cfg.size`` on the long side, its aspect). A subject's videos share one canonical
aspect: a video whose aspect differs from the first's by more than
:data:`ptx.cache.frame.ASPECT_TOLERANCE` is refused with a message saying how to prepare it again
(``--aspect``); within it, the video is resized to the run's frame. Pretraining on many
subjects (``mixed_aspects``) resizes every video to the first one's frame instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ptx.cache.frame import same_aspect
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.devices import resolve_device
from ptx.errors import InputError, StageError
from ptx.methods.base import Method
from ptx.nn.arrays import resize_array, resize_keypoints
from ptx.training.data import TrainData, VideoSpan, split_point

_CHUNK = 32
"""Frames read and resized at a time."""
_FLOW = ("flow", "flow_valid")

ReadFn = Callable[[str, int, int], np.ndarray]
"""read(name, start, stop) -> the array's frames [start, stop) (or the whole array for
non-time arrays, when start == stop == 0)."""


@dataclass(frozen=True)
class Needs:
    """What a method's training reads from each video."""

    images: tuple[str, ...]
    """Required per-frame image arrays, ``frames`` first."""
    extra: tuple[str, ...]
    """Those a batch carries for the trainer (``Batch.arrays``)."""
    flow: bool
    """Use flow + flow_valid when every video has them."""
    background: bool
    keypoints: bool

    @property
    def required(self) -> tuple[str, ...]:
        """Arrays every video must have."""
        return (
            *self.images,
            *(("background",) if self.background else ()),
            *(("keypoints",) if self.keypoints else ()),
        )


def needs(method: Method, cfg: Any) -> Needs:
    """What ``method`` with settings ``cfg`` reads."""
    enc = method.encoding(cfg, (int(cfg.size), int(cfg.size))).arrays  # the inputs only
    own = method.train_arrays(cfg)
    extra = tuple(a for a in own if a not in ("background", "keypoints", "flow", "flow_valid"))
    images = ["frames"]
    for a in (*enc, *extra):
        if a != "keypoints" and a not in images:
            images.append(a)
    return Needs(
        tuple(images),
        extra,
        "flow" in own,
        "background" in own,
        "keypoints" in enc or "keypoints" in own,
    )


def choose_device(nbytes: int, requested: str, compute: torch.device) -> tuple[torch.device, bool]:
    """(where the dataset lives, whether to pin it). ``auto`` puts it on the GPU when it
    takes less than half of the free GPU memory."""
    if compute.type != "cuda" or requested == "cpu":
        return torch.device("cpu"), compute.type == "cuda"
    if requested == "cuda":
        return compute, False
    free, _ = torch.cuda.mem_get_info(compute)
    return (compute, False) if nbytes < free // 2 else (torch.device("cpu"), True)


def _channels(shape: tuple[int, ...]) -> int:
    """Channels of a per-frame array of shape (T, H, W) or (T, H, W, C)."""
    return 1 if len(shape) == 3 else int(shape[3])


def check_aspects(frames: list[tuple[str, tuple[int, int]]]) -> None:
    """Raise InputError when the canonical frames [(video, (H, W))] of one subject differ
    in aspect by more than :data:`ptx.cache.frame.ASPECT_TOLERANCE`."""
    name0, (h0, w0) = frames[0]
    for name, (h, w) in frames[1:]:
        if not same_aspect((h, w), (h0, w0)):
            raise InputError(
                f"Video {name}'s canonical frames are {w}x{h} (W x H) but video {name0}'s are "
                f"{w0}x{h0}; a subject's videos must share one frame shape.",
                f"Prepare {name} again with --aspect {w0}:{h0} --force crop (or both videos "
                "with --aspect square).",
            )


def build_train_data(
    sources: Iterable[tuple[str, ReadFn, int, dict[str, tuple[int, ...]]]],
    method: Method,
    cfg: Any,
    device: torch.device,
    has: Callable[[str, str], bool] | None = None,
    mixed_aspects: bool = False,
) -> TrainData:
    """Read every video's arrays into tensors at the run's frame (module docstring).

    ``sources``: (video name, read function, frame count, array shapes) per video;
    ``has(video, array)`` says whether an optional array exists."""
    sources = list(sources)
    need = needs(method, cfg)
    canon = [(name, (int(shp["frames"][1]), int(shp["frames"][2]))) for name, _, _, shp in sources]
    if not mixed_aspects:
        check_aspects(canon)
    canonical = canon[0][1]
    size = method.frame(cfg, canonical)
    total = sum(c for _, _, c, _ in sources)
    names = list(need.images)
    if need.flow and has is not None and all(has(n, a) for n, *_ in sources for a in _FLOW):
        names += _FLOW
    shapes = sources[0][3]
    channels = {n: _channels(shapes[n]) for n in names}
    nbytes = sum(total * channels[n] * size[0] * size[1] * (2 if n == "flow" else 1) for n in names)
    where, pin = choose_device(nbytes, cfg.data_device, device)
    tensors: dict[str, torch.Tensor] = {}
    for n in names:
        dtype = torch.float16 if n == "flow" else torch.uint8
        t = torch.empty((total, channels[n], *size), dtype=dtype)
        tensors[n] = t.pin_memory() if pin else t
    backgrounds, keypoints, spans, start = [], [], [], 0
    for name, read, count, shp in sources:
        for n in names:
            for a in range(0, count, _CHUNK):
                b = min(count, a + _CHUNK)
                tensors[n][start + a : start + b] = resize_array(n, read(n, a, b), size)
        if need.background:
            backgrounds.append(resize_array("background", read("background", 0, 0)[None], size)[0])
        if need.keypoints:
            src = (int(shp["frames"][1]), int(shp["frames"][2]))
            keypoints.append(resize_keypoints(read("keypoints", 0, count), src, size))
        spans.append(VideoSpan(name, start, count, split_point(count, cfg.holdout)))
        start += count
    return TrainData(
        arrays={k: v.to(where) for k, v in tensors.items()},
        videos=spans,
        encoding=method.encoding(cfg, size),
        window=method.window(cfg),
        clip=method.clip,
        extra=need.extra,
        backgrounds=torch.stack(backgrounds).to(where) if backgrounds else None,
        keypoints=torch.cat(keypoints) if keypoints else None,
        canonical=canonical,
    )


def check_video_arrays(
    name: str, present: set[str], shapes: dict[str, tuple[int, ...]], need: Needs
) -> None:
    """Raise StageError naming the first missing array or inconsistent shape."""
    missing = [a for a in need.required if a not in present]
    if missing:
        raise StageError(
            f"Video {name} has no '{missing[0]}' array (missing: {', '.join(missing)}).",
            "Run `ptx prepare` on it until every stage is complete.",
        )
    t, hw = shapes["frames"][0], tuple(shapes["frames"][1:3])
    for a in (*need.required, *_FLOW):
        if a not in shapes:
            continue
        shape = shapes[a]
        if a != "background" and shape[0] != t:
            raise StageError(
                f"Video {name}: '{a}' has {shape[0]} frames but 'frames' has {t}.",
                "Its stages are out of step; run `ptx prepare` on it again.",
            )
        if a != "keypoints" and tuple(shape[1:3] if a != "background" else shape[:2]) != hw:
            raise StageError(
                f"Video {name}: '{a}' is {tuple(shape)} but frames are {hw[0]}x{hw[1]} (H x W).",
                "Run `ptx prepare` on it again.",
            )


def from_arrays(
    videos: dict[str, dict[str, np.ndarray]],
    method: Method,
    cfg: Any,
    device: torch.device | str = "cpu",
) -> TrainData:
    """TrainData from in-memory numpy arrays ({video name: {array name: array}}), named and
    shaped as the stages write them (see the module docstring)."""
    need = needs(method, cfg)
    sources = []
    for name, arrays in videos.items():
        shapes = {k: v.shape for k, v in arrays.items()}
        check_video_arrays(name, set(arrays), shapes, need)

        def read(array: str, a: int, b: int, arrays: dict = arrays) -> np.ndarray:
            return arrays[array] if array == "background" else arrays[array][a:b]

        sources.append((name, read, len(arrays["frames"]), shapes))

    def has(name: str, array: str) -> bool:
        return array in videos[name]

    return build_train_data(sources, method, cfg, torch.device(device), has)


def load_subject_data(
    ws: Workspace, subjects: list[str], method: Method, cfg: Any, mixed_aspects: bool = False
) -> TrainData:
    """Every video of ``subjects`` read from its Zarr store into tensors at the run's frame
    (module docstring)."""
    from ptx.pipeline.registry import producers

    need = needs(method, cfg)
    made_by = producers()
    sources = []
    stores: dict[str, VideoStore] = {}
    for subject in subjects:
        for vid in ws.subject(subject)["videos"]:
            store = VideoStore(ws, vid)
            present = set(store.arrays())
            shapes = {a: tuple(store.open_array(a).shape) for a in present}
            check_video_arrays(vid, present, shapes, need)
            for array in present & {*made_by}:
                rec = store.record(made_by[array])  # arrays imported without a record pass
                if rec is not None and rec.status != "complete":
                    raise StageError(
                        f"Stage '{made_by[array]}' of video {vid} is not complete.",
                        "Run `ptx prepare` on the video again to finish it.",
                    )
            stores[vid] = store

            def read(name: str, a: int, b: int, store: VideoStore = store) -> Any:
                return store.read(name) if name == "background" else store.read(name, a, b)

            sources.append((vid, read, shapes["frames"][0], shapes))
    if not sources:
        raise InputError(f"Subject(s) {', '.join(subjects)} have no prepared videos.")
    return build_train_data(
        sources,
        method,
        cfg,
        resolve_device(cfg.device),
        has=lambda vid, name: stores[vid].has(name),
        mixed_aspects=mixed_aspects,
    )


def stages_read(method: Method, cfg: Any) -> list[str]:
    """The preparation stages whose outputs a run of ``method`` reads (for its record of
    input tokens)."""
    from ptx.pipeline.registry import producers

    made_by = producers()
    need = needs(method, cfg)
    arrays = [*need.required, *(_FLOW if need.flow else ())]
    return sorted({made_by[a] for a in arrays if a in made_by})
