"""Read a subject's prepared arrays into :class:`~ptx.training.data.TrainData`.

Every array of every video is read once, time chunk by time chunk, from the videos' Zarr
stores (or from numpy arrays in tests), resized to the training resolution (area for
images and flow, nearest for IUV, all-valid for flow validity) and kept as uint8/float16
tensors: on the GPU when they fit in half its free memory, else in pinned host memory.

Arrays read (DESIGN.md names): ``frames``, ``poselabel`` (skeleton image), ``label3d``,
``iuv``, ``mask``, ``background``; optional ``flow`` + ``flow_valid`` (without them the
temporal loss is off).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError, StageError
from ptx.methods.d2g.config import D2GConfig
from ptx.training.data import TrainData, VideoSpan, resize_array, split_point
from ptx.training.loop import resolve_device

REQUIRED = ("frames", "poselabel", "iuv", "mask", "background")
"""Arrays every video of a subject must have."""
OPTIONAL = ("label3d", "flow", "flow_valid")
"""Arrays used when present (label3d is required when the config uses it)."""

_CHUNK = 32
"""Frames read and resized at a time."""

ReadFn = Callable[[str, int, int], np.ndarray]
"""read(name, start, stop) -> the array's frames [start, stop) (or the whole array for
non-time arrays, when start == stop == 0)."""


def choose_device(nbytes: int, requested: str, compute: torch.device) -> tuple[torch.device, bool]:
    """(where the dataset lives, whether to pin it). ``auto`` puts it on the GPU when it
    takes less than half of the free GPU memory."""
    if compute.type != "cuda" or requested == "cpu":
        return torch.device("cpu"), compute.type == "cuda"
    if requested == "cuda":
        return compute, False
    free, _ = torch.cuda.mem_get_info(compute)
    return (compute, False) if nbytes < free // 2 else (torch.device("cpu"), True)


def build_train_data(
    sources: Iterable[tuple[str, ReadFn, int, tuple[int, ...]]],
    size: int,
    holdout: float,
    use_label3d: bool,
    pose_frames: int,
    device: torch.device,
    data_device: str = "auto",
    has: Callable[[str, str], bool] | None = None,
) -> TrainData:
    """Read every video's arrays into tensors at ``size`` px.

    ``sources``: (video name, read function, frame count, frame shape) per video;
    ``has(video, array)`` says whether an optional array exists."""
    sources = list(sources)
    counts = [c for _, _, c, _ in sources]
    total = sum(counts)
    with_flow = has is not None and all(
        has(n, "flow") and has(n, "flow_valid") for n, *_ in sources
    )
    names = ["frames", "poselabel", "iuv", "mask"] + (["label3d"] if use_label3d else [])
    names += ["flow", "flow_valid"] if with_flow else []
    channels = {
        "frames": 3,
        "poselabel": 3,
        "iuv": 3,
        "mask": 1,
        "label3d": 3,
        "flow": 2,
        "flow_valid": 1,
    }
    dtypes = {"flow": torch.float16}
    nbytes = sum(total * channels[n] * size * size * (2 if n == "flow" else 1) for n in names)
    where, pin = choose_device(nbytes, data_device, device)
    tensors: dict[str, torch.Tensor] = {}
    for n in names:
        t = torch.empty((total, channels[n], size, size), dtype=dtypes.get(n, torch.uint8))
        tensors[n] = t.pin_memory() if pin else t
    backgrounds, spans, start = [], [], 0
    for name, read, count, _ in sources:
        for n in names:
            for a in range(0, count, _CHUNK):
                b = min(count, a + _CHUNK)
                tensors[n][start + a : start + b] = resize_array(n, read(n, a, b), size)
        backgrounds.append(resize_array("background", read("background", 0, 0)[None], size)[0])
        spans.append(VideoSpan(name, start, count, split_point(count, holdout)))
        start += count
    moved = {k: v.to(where) for k, v in tensors.items()}
    return TrainData(
        frames=moved["frames"],
        skeleton=moved["poselabel"],
        label3d=moved.get("label3d"),
        iuv=moved["iuv"],
        mask=moved["mask"],
        backgrounds=torch.stack(backgrounds).to(where),
        flow=moved.get("flow"),
        flow_valid=moved.get("flow_valid"),
        videos=spans,
        pose_frames=pose_frames,
    )


def check_video_arrays(
    name: str, present: set[str], shapes: dict[str, tuple[int, ...]], use_label3d: bool
) -> None:
    """Raise StageError naming the first missing array or inconsistent shape."""
    need = [*REQUIRED, *(["label3d"] if use_label3d else [])]
    missing = [a for a in need if a not in present]
    if missing:
        raise StageError(
            f"Video {name} has no '{missing[0]}' array (missing: {', '.join(missing)}).",
            "Run `ptx prepare` on it until every stage is complete.",
        )
    t, h = shapes["frames"][0], shapes["frames"][1]
    for a, shape in shapes.items():
        if a not in REQUIRED and a not in OPTIONAL:  # e.g. body/*, keypoints: not images
            continue
        if a != "background" and shape[0] != t:
            raise StageError(
                f"Video {name}: '{a}' has {shape[0]} frames but 'frames' has {t}.",
                "Its stages are out of step; run `ptx prepare` on it again.",
            )
        if (shape[1] if a != "background" else shape[0]) != h:
            raise StageError(
                f"Video {name}: '{a}' is {shape} but frames are {h} px.",
                "Run `ptx prepare` on it again.",
            )


def from_arrays(
    videos: dict[str, dict[str, np.ndarray]],
    size: int,
    holdout: float = 0.1,
    use_label3d: bool = True,
    pose_frames: int = 3,
    device: torch.device | str = "cpu",
    data_device: str = "auto",
) -> TrainData:
    """TrainData from in-memory numpy arrays ({video name: {array name: array}}), named and
    shaped as the stages write them (see the module docstring)."""
    sources = []
    for name, arrays in videos.items():
        check_video_arrays(name, set(arrays), {k: v.shape for k, v in arrays.items()}, use_label3d)

        def read(array: str, a: int, b: int, arrays: dict = arrays) -> np.ndarray:
            return arrays[array] if array == "background" else arrays[array][a:b]

        sources.append((name, read, len(arrays["frames"]), arrays["frames"].shape[1:]))

    def has(name: str, array: str) -> bool:
        return array in videos[name]

    return build_train_data(
        sources, size, holdout, use_label3d, pose_frames, torch.device(device), data_device, has
    )


def load_subject_data(ws: Workspace, subjects: list[str], cfg: D2GConfig) -> TrainData:
    """Every video of ``subjects`` read from its Zarr store into tensors at ``cfg.size``."""
    from ptx.pipeline.registry import producers

    made_by = producers()
    sources = []
    stores: dict[str, VideoStore] = {}
    for subject in subjects:
        for vid in ws.subject(subject)["videos"]:
            store = VideoStore(ws, vid)
            present = set(store.arrays())
            shapes = {a: tuple(store.open_array(a).shape) for a in present}
            check_video_arrays(vid, present, shapes, cfg.use_label3d)
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

            sources.append((vid, read, shapes["frames"][0], shapes["frames"][1:]))
    if not sources:
        raise InputError(f"Subject(s) {', '.join(subjects)} have no prepared videos.")
    device = resolve_device(cfg.device)
    return build_train_data(
        sources,
        cfg.size,
        cfg.holdout,
        cfg.use_label3d,
        cfg.pose_frames,
        device,
        cfg.data_device,
        has=lambda vid, name: stores[vid].has(name),
    )
