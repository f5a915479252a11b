"""Many people's videos for a one-shot method, read lazily within a memory budget.

A one-shot method trains once on many subjects (``ptx train --subjects a,b,c``). Unlike
:class:`~ptx.training.data.TrainData`, which holds every frame of one subject in memory,
:class:`SharedData` keeps only a bounded cache of recently used time chunks:

- Every video's frames get global indices (as in ``TrainData``: video v's frames sit at
  ``start .. start + count``), but no array is read until a batch asks for it.
- A batch's frames are read from the videos' Zarr stores :data:`CHUNK` frames at a time,
  resized to the run's frame (``ptx.nn.arrays``), and kept in an LRU cache of at most
  ``budget`` bytes (the resized tensors: a video's chunk costs ``CHUNK * H * W`` times the
  channels of the arrays the method reads, in bytes). The cache's own size never exceeds
  the budget; on top of it, one chunk is being decoded at a time (at the prepared size),
  and each batch is a copy. So memory does not grow with the number of videos: a dataset
  of 100 prepared videos needs the budget, not 100x one video.
- A training item is a **(source frame, driving window) pair from the same video**
  [DwNet §3.2: frames i, j, j+1, j+2 of one video]: the driving window is ``clip``
  consecutive frames ending at t (all in the video's training part); the source is a frame
  of the same video's training part drawn uniformly by torch's global generator (saved in
  checkpoints, so ``--resume`` is exact).
- **Held-out subjects** are whole people never trained on (``--holdout-subjects N``); the
  evaluation runs the one-shot protocol on them: the video's first frame is the source,
  every later frame drives and is the target. Without held-out subjects it runs on the
  held-out tail of each training video (``holdout``), with the video's first frame as the
  source.

The run's frame is :meth:`Method.frame` of the first video's canonical frame; a video of
another aspect is resized to it (as pretraining does).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ptx.errors import InputError
from ptx.nn.arrays import resize_array
from ptx.nn.poselabels import PoseEncoding, unit
from ptx.training.data import Batch, split_point

CHUNK = 16
"""Frames read, resized and cached together."""
DEFAULT_BUDGET_MB = 256
"""Default memory budget of the frame cache (``data_budget_mb``), in MiB."""

ReadFn = Callable[[str, int, int], np.ndarray]


@dataclass
class SharedVideo:
    """One video of a shared dataset."""

    name: str
    subject: str
    start: int
    count: int
    n_train: int
    """Frames used for training (0 for a held-out subject's video)."""
    read: ReadFn = field(repr=False)
    """read(array, a, b) -> frames [a, b) of the prepared array (numpy, channels last)."""

    @property
    def heldout(self) -> range:
        return range(self.start + self.n_train, self.start + self.count)


@dataclass
class PairBatch(Batch):
    """A :class:`Batch` of driving clips plus each item's source frame (one per item, the
    same for every block of the item)."""

    source: torch.Tensor | None = None
    """float (B, 3, H, W) in [-1, 1]: the source picture of each item."""
    source_pose: torch.Tensor | None = None
    """float (B, C_pose, H, W): its pose encoding."""
    source_arrays: dict[str, torch.Tensor] = field(default_factory=dict)
    """Its other arrays (uint8 (B, C, H, W)), as in ``arrays``."""


class ChunkCache:
    """An LRU cache of resized time chunks {(video, chunk): {array: tensor}}, at most
    ``budget`` bytes; ``peak`` is the most it held."""

    def __init__(self, budget: int) -> None:
        self.budget = int(budget)
        self.items: OrderedDict[tuple[int, int], dict[str, torch.Tensor]] = OrderedDict()
        self.nbytes = 0
        self.peak = 0
        self.loads = 0

    def get(self, key: tuple[int, int], load: Callable[[], dict[str, torch.Tensor]]):
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = load()
        self.loads += 1
        size = sum(t.numel() * t.element_size() for t in value.values())
        while self.items and self.nbytes + size > self.budget:
            _, old = self.items.popitem(last=False)
            self.nbytes -= sum(t.numel() * t.element_size() for t in old.values())
        if size <= self.budget:
            self.items[key] = value
            self.nbytes += size
            self.peak = max(self.peak, self.nbytes)
        return value


class SharedData:
    """Many videos, read lazily (module docstring)."""

    def __init__(
        self,
        videos: list[SharedVideo],
        names: tuple[str, ...],
        encoding: PoseEncoding,
        clip: int,
        extra: tuple[str, ...],
        frame: tuple[int, int],
        budget_mb: float = DEFAULT_BUDGET_MB,
        canonical: tuple[int, int] | None = None,
    ) -> None:
        if not videos:
            raise InputError("No prepared videos to train on.")
        self.videos = videos
        self.names = names
        self.encoding = encoding
        self.clip = clip
        self.extra = extra
        self._frame = frame
        self.canonical = canonical
        self.cache = ChunkCache(int(budget_mb * 2**20))
        n = sum(v.count for v in videos)
        self.video_of = torch.zeros(n, dtype=torch.long)
        train, tails, people = [], [], []
        for i, v in enumerate(videos):
            self.video_of[v.start : v.start + v.count] = i
            train.extend(range(v.start + clip - 1, v.start + v.n_train))
            if v.n_train == 0:
                people.extend(range(v.start + 1, v.start + v.count))
            else:
                tails.extend(v.heldout)
        self.train_ids = torch.tensor(train, dtype=torch.long)
        self.heldout_ids = torch.tensor(people or tails, dtype=torch.long)
        self.heldout_people = bool(people)

    # --- what the loop asks of a dataset ---------------------------------------------------
    @property
    def frame(self) -> tuple[int, int]:
        return self._frame

    @property
    def size(self) -> int:
        return max(self._frame)

    def train_frame_ids(self) -> torch.Tensor:
        ids = [torch.arange(v.start, v.start + v.n_train) for v in self.videos]
        return torch.cat(ids) if ids else torch.zeros(0, dtype=torch.long)

    # --- reading --------------------------------------------------------------------------
    def _chunk(self, v: int, c: int) -> dict[str, torch.Tensor]:
        video = self.videos[v]

        def load() -> dict[str, torch.Tensor]:
            a, b = c * CHUNK, min(video.count, (c + 1) * CHUNK)
            return {n: resize_array(n, video.read(n, a, b), self._frame) for n in self.names}

        return self.cache.get((v, c), load)

    def take(self, name: str, ids: torch.Tensor) -> torch.Tensor:
        """Rows ``ids`` (global frame indices) of array ``name``, (n, C, H, W)."""
        rows = []
        for i in ids.tolist():
            v = int(self.video_of[i])
            local = i - self.videos[v].start
            rows.append(self._chunk(v, local // CHUNK)[name][local % CHUNK])
        return torch.stack(rows)

    def pose(self, ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        return self.encoding({n: self.take(n, ids).to(device) for n in self.encoding.arrays})

    def first_frames(self, ids: torch.Tensor) -> torch.Tensor:
        """The first frame of each frame's video (the one-shot protocol's source)."""
        return torch.tensor([self.videos[int(self.video_of[i])].start for i in ids.tolist()])

    def _pair(self, frames: torch.Tensor, sources: torch.Tensor, clip: int, device) -> PairBatch:
        return PairBatch(
            clip=clip,
            pose=self.pose(frames, device),
            real=unit(self.take("frames", frames).to(device)),
            arrays={n: self.take(n, frames).to(device) for n in self.extra},
            video=self.video_of[frames].to(device),
            source=unit(self.take("frames", sources).to(device)),
            source_pose=self.pose(sources, device),
            source_arrays={n: self.take(n, sources).to(device) for n in self.extra},
        )

    def images(self, ids: torch.Tensor, device: torch.device) -> PairBatch:
        """Single frames ``ids`` as one-shot targets, each with its video's first frame as
        the source (for evaluation)."""
        return self._pair(ids, self.first_frames(ids), 1, device)

    def batch(self, ids: torch.Tensor, device: torch.device) -> PairBatch:
        """The training items whose driving clips end at frames ``ids``; each item's
        source is a frame of its video's training part drawn by torch's generator."""
        blocks = [ids - (self.clip - 1 - j) for j in range(self.clip)]
        sources = []
        for i in ids.tolist():
            v = self.videos[int(self.video_of[i])]
            sources.append(v.start + int(torch.randint(0, v.n_train, ())))
        return self._pair(torch.cat(blocks), torch.tensor(sources), self.clip, device)

    def video_frames(self, v: int) -> torch.Tensor:
        """Global indices of every frame of video ``v``."""
        s = self.videos[v]
        return torch.arange(s.start, s.start + s.count)


def split_counts(count: int, holdout: float, heldout_subject: bool) -> int:
    """Training frames of a video: none for a held-out subject, else :func:`split_point`."""
    return 0 if heldout_subject else split_point(count, holdout)
