"""A subject's frames as training tensors, the held-out split, frame windows, batches and
their order.

:class:`TrainData` holds every frame of every video of a subject as uint8/float16 tensors
at the training resolution (built by ``ptx.training.load`` from the Zarr stores or from
arrays); a batch is then a few row gathers: no per-frame image files, no decoding in the
loop. Every image is at the run's frame (H, W) (``ptx.training.load`` says how it follows
from the subject's canonical frames). The last ``holdout`` fraction of each video is never trained on; ``ptx score``
evaluates on it (:func:`split_point` is the definition).

Windows and clips are the method's (``ptx.methods.base``): a training item is ``clip``
consecutive frames t-clip+1..t, all in the video's training part; each frame's pose input
stacks the method's encoding of the frames at its window offsets. A window reaching before
a video's first frame repeats that frame; one reaching past the end of the frame's part of
the video (its training part, or its held-out tail) repeats the part's last frame, so
training never reads a held-out frame's pose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ptx.errors import InputError, StageError
from ptx.methods.base import Window
from ptx.nn.poselabels import PoseEncoding, unit


def split_point(count: int, holdout: float) -> int:
    """Frames of a ``count``-frame video used for training; the rest (its tail) is held out.
    At least one frame is held out when ``holdout`` > 0 and the video has two or more."""
    held = int(round(count * holdout))
    if holdout > 0 and count >= 2:
        held = max(1, held)
    return max(1, count - held) if count else 0


@dataclass
class VideoSpan:
    """Where one video's frames sit in the subject's tensors."""

    name: str
    start: int
    count: int
    n_train: int

    @property
    def heldout(self) -> range:
        return range(self.start + self.n_train, self.start + self.count)


@dataclass
class Batch:
    """Frames of training items (or single frames for evaluation), on the compute device.

    Image tensors hold ``clip`` blocks of B frames each: block j holds the frames
    t - (clip - 1) + j of every item (for pairs: first half t-1, second half t)."""

    clip: int
    pose: torch.Tensor
    """float (clip*B, C_pose, H, W): each frame's stacked window of pose encodings."""
    real: torch.Tensor
    """float (clip*B, 3, H, W) in [-1, 1]: the frames."""
    arrays: dict[str, torch.Tensor]
    """The method's other per-frame arrays, as stored (uint8 (clip*B, C, H, W))."""
    video: torch.Tensor
    """int64 (clip*B,): video (background) index of each frame."""
    keypoints: torch.Tensor | None = None
    """float (clip*B, K, 3) in training pixels, when the method reads keypoints."""
    flow: torch.Tensor | None = None
    """float ((clip-1)*B, 2, H, W): flow of the frames of blocks 1.. to the frame before, in
    pixels (None when the subject has none)."""
    flow_valid: torch.Tensor | None = None
    """float ((clip-1)*B, 1, H, W): 1 where that flow is valid."""


@dataclass
class TrainData:
    """All frames of a subject as tensors (N frames over all videos, H x W pixels)."""

    arrays: dict[str, torch.Tensor]
    """Per-frame arrays (N, C, H, W): ``frames`` uint8, the encoding's and the method's
    arrays, and ``flow`` float16 + ``flow_valid`` uint8 0/1 when present."""
    videos: list[VideoSpan]
    encoding: PoseEncoding
    window: Window = field(default_factory=Window)
    clip: int = 1
    extra: tuple[str, ...] = ()
    """Arrays a batch carries in ``Batch.arrays``."""
    backgrounds: torch.Tensor | None = None
    """uint8 (V, 3, H, W): one per video (when the method reads them)."""
    keypoints: torch.Tensor | None = None
    """float (N, K, 3) in training pixels (when the method reads them)."""
    canonical: tuple[int, int] | None = None
    """The subject's canonical frame (H, W) the arrays were resized from (None: the run's
    frame itself)."""
    video_of: torch.Tensor = field(init=False)
    first: torch.Tensor = field(init=False)
    """int64 (N,): the first frame of each frame's video."""
    last: torch.Tensor = field(init=False)
    """int64 (N,): the last frame of each frame's part (training part or held-out tail)."""
    train_ids: torch.Tensor = field(init=False)
    """int64: frames t whose clip t-clip+1..t lies in a video's training part."""
    heldout_ids: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        n = self.arrays["frames"].shape[0]
        self.video_of = torch.zeros(n, dtype=torch.long)
        self.first = torch.zeros(n, dtype=torch.long)
        self.last = torch.zeros(n, dtype=torch.long)
        train, held = [], []
        for v, s in enumerate(self.videos):
            cut, end = s.start + s.n_train, s.start + s.count
            self.video_of[s.start : end] = v
            self.first[s.start : end] = s.start
            self.last[s.start : cut] = cut - 1
            self.last[cut:end] = end - 1
            train.extend(range(s.start + self.clip - 1, cut))
            held.extend(s.heldout)
        self.train_ids = torch.tensor(train, dtype=torch.long)
        self.heldout_ids = torch.tensor(held, dtype=torch.long)

    @property
    def frame(self) -> tuple[int, int]:
        """The run's frame (H, W): the size of every image."""
        return int(self.arrays["frames"].shape[-2]), int(self.arrays["frames"].shape[-1])

    @property
    def size(self) -> int:
        """The frame's long side."""
        return max(self.frame)

    @property
    def device(self) -> torch.device:
        return self.arrays["frames"].device

    def train_frame_ids(self) -> torch.Tensor:
        """int64: every frame of every video's training part (e.g. for texture unwrapping)."""
        ids = [torch.arange(s.start, s.start + s.n_train) for s in self.videos]
        return torch.cat(ids) if ids else torch.zeros(0, dtype=torch.long)

    def take(self, name: str, ids: torch.Tensor) -> torch.Tensor:
        """Rows ``ids`` of array ``name`` (where the data lives)."""
        return take(self.arrays[name], ids)

    def shifted(self, ids: torch.Tensor, offset: int) -> torch.Tensor:
        """Frames ``ids + offset``, kept inside each frame's video (before) or part
        (after); see the module docstring."""
        if offset < 0:
            return torch.maximum(ids + offset, self.first[ids])
        if offset > 0:
            return torch.minimum(ids + offset, self.last[ids])
        return ids

    # --- building model inputs --------------------------------------------------------
    def pose(self, ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        """float (len(ids), C_pose, H, W): the method's encoding of the frames at each
        window offset of frames ``ids``, stacked in the window's order."""
        blocks = []
        for offset in self.window.offsets:
            at = self.shifted(ids, offset)
            inputs = {}
            for name in self.encoding.arrays:
                if name == "keypoints":
                    inputs[name] = self._keypoints(at, device)
                else:
                    inputs[name] = self.take(name, at).to(device, non_blocking=True)
            blocks.append(self.encoding(inputs))
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=1)

    def _keypoints(self, ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        if self.keypoints is None:
            raise StageError("This method reads keypoints, but none were loaded.")
        return self.keypoints[ids.to(self.keypoints.device)].to(device)

    def images(self, ids: torch.Tensor, device: torch.device) -> Batch:
        """Inputs and targets of single frames ``ids`` (for evaluation and rendering)."""
        return Batch(
            clip=1,
            pose=self.pose(ids, device),
            real=unit(self.take("frames", ids).to(device, non_blocking=True)),
            arrays={n: self.take(n, ids).to(device, non_blocking=True) for n in self.extra},
            video=self.video_of[ids].to(device),
            keypoints=self._keypoints(ids, device) if self.keypoints is not None else None,
        )

    def batch(self, ids: torch.Tensor, device: torch.device) -> Batch:
        """The training batch of the clips ending at frames ``ids`` (int64 (B,))."""
        blocks = [self.shifted(ids, j - (self.clip - 1)) for j in range(self.clip)]
        out = self.images(torch.cat(blocks), device)
        out.clip = self.clip
        if self.clip > 1 and "flow" in self.arrays and "flow_valid" in self.arrays:
            later = torch.cat(blocks[1:])
            out.flow = self.take("flow", later).to(device, non_blocking=True).float()
            out.flow_valid = self.take("flow_valid", later).to(device, non_blocking=True).float()
        return out


def take(t: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``t[ids]`` along dim 0 (see :func:`gather`)."""
    return gather([(t, ids)])


def gather(blocks: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Rows ``ids`` of each tensor of ``blocks`` [(tensor (N, C_i, ...), ids (n,))],
    concatenated along channels: (n, sum C_i, ...). On the CPU each row is one memcpy into
    the output (``index_select`` on uint8 was ~300x slower at 256 px), into pinned memory
    when the source is pinned; on CUDA ``index_select``."""
    t0, ids0 = blocks[0]
    if t0.device.type != "cpu":
        parts = [t.index_select(0, i.to(t.device)) for t, i in blocks]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
    channels = sum(t.shape[1] for t, _ in blocks)
    out = torch.empty((len(ids0), channels, *t0.shape[2:]), dtype=t0.dtype)
    if t0.is_pinned():
        out = out.pin_memory()
    at = 0
    for t, ids in blocks:
        c = t.shape[1]
        for row, i in enumerate(ids.tolist()):
            out[row, at : at + c] = t[i]
        at += c
    return out


class BatchSampler:
    """Epochs of a seeded permutation of the training frames; its state (epoch, position,
    permutation, generator) goes into checkpoints so a resumed run draws the same batches."""

    def __init__(self, n: int, batch: int, seed: int) -> None:
        if n < 1:
            raise InputError(
                "No training items: every video of the subject is too short for the "
                "method's clip of consecutive training frames.",
                "Prepare a longer video, or lower --set holdout=...",
            )
        self.n, self.batch = n, batch
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.generator)
        self.pos = 0
        self.epoch = 0

    def next(self) -> torch.Tensor:
        """int64 (batch,) positions into the training frames."""
        out = []
        need = self.batch
        while need:
            n_take = min(need, self.n - self.pos)
            out.append(self.perm[self.pos : self.pos + n_take])
            self.pos += n_take
            need -= n_take
            if self.pos >= self.n:
                self.perm = torch.randperm(self.n, generator=self.generator)
                self.pos, self.epoch = 0, self.epoch + 1
        return torch.cat(out)

    def state_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "pos": self.pos,
            "epoch": self.epoch,
            "perm": self.perm.clone(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n:
            raise StageError(
                f"The checkpoint was trained on {state['n']} training items; the subject now "
                f"has {self.n}.",
                "Its videos changed since; start a new run instead of --resume.",
            )
        self.pos, self.epoch = int(state["pos"]), int(state["epoch"])
        self.perm = state["perm"].clone()
        self.generator.set_state(state["generator"])
