"""A subject's frames as training tensors, the held-out split, batches and their order.

:class:`TrainData` holds every frame of every video of a subject as uint8/float16 tensors
at the training resolution (built by ``ptx.training.load`` from the Zarr stores or
from arrays); a batch is then a few row gathers: no per-frame image files, no decoding in
the loop. The last ``holdout`` fraction of each video is never trained on; ``ptx score``
evaluates on it (:func:`split_point` is the definition).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ptx.errors import InputError, StageError


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
    """Training items: pairs (t-1, t); the first half of every image tensor holds the frames
    t-1, the second half the frames t. Images float in [-1, 1]."""

    pose: torch.Tensor
    """float (2B, C_pose, S, S): pose labels (frames t, t-1, t-2 of each image)."""
    iuv: torch.Tensor
    """uint8 (2B, 3, S, S): body-model IUV."""
    real: torch.Tensor
    """float (2B, 3, S, S): the frames."""
    mask: torch.Tensor
    """float (2B, 1, S, S) in [0, 1]: person masks."""
    part: torch.Tensor
    """int64 (2B, S, S): IUV part index (pseudo ground truth)."""
    uv: torch.Tensor
    """float (2B, 2, S, S) in [-1, 1]: IUV (u, v) (pseudo ground truth)."""
    video: torch.Tensor
    """int64 (2B,): video (background) index."""
    flow: torch.Tensor | None = None
    """float (B, 2, S, S): flow from t to t-1 in pixels (None when the subject has none)."""
    flow_valid: torch.Tensor | None = None
    """float (B, 1, S, S): 1 where the flow is valid."""


@dataclass
class TrainData:
    """All frames of a subject as tensors (N frames over all videos, S x S pixels)."""

    frames: torch.Tensor
    """uint8 (N, 3, S, S)."""
    skeleton: torch.Tensor
    """uint8 (N, 3, S, S): the poselabel arrays."""
    label3d: torch.Tensor | None
    """uint8 (N, 3, S, S), or None when the config does not use it."""
    iuv: torch.Tensor
    """uint8 (N, 3, S, S)."""
    mask: torch.Tensor
    """uint8 (N, 1, S, S)."""
    backgrounds: torch.Tensor
    """uint8 (V, 3, S, S): one per video."""
    flow: torch.Tensor | None
    """float16 (N, 2, S, S) at the training resolution, or None."""
    flow_valid: torch.Tensor | None
    """uint8 (N, 1, S, S) 0/1, or None."""
    videos: list[VideoSpan]
    pose_frames: int = 3
    video_of: torch.Tensor = field(init=False)
    prev: torch.Tensor = field(init=False)
    train_ids: torch.Tensor = field(init=False)
    """int64: frames t whose pair (t-1, t) lies in a video's training part."""
    heldout_ids: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        n = self.frames.shape[0]
        video_of = torch.zeros(n, dtype=torch.long)
        prev = torch.arange(n)
        train, held = [], []
        for v, span in enumerate(self.videos):
            sl = slice(span.start, span.start + span.count)
            video_of[sl] = v
            prev[span.start + 1 : span.start + span.count] -= 1
            train.extend(range(span.start + 1, span.start + span.n_train))
            held.extend(span.heldout)
        self.video_of, self.prev = video_of, prev
        self.train_ids = torch.tensor(train, dtype=torch.long)
        self.heldout_ids = torch.tensor(held, dtype=torch.long)

    @property
    def size(self) -> int:
        return int(self.frames.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.frames.device

    def train_frame_ids(self) -> torch.Tensor:
        """int64: every frame of every video's training part (for texture unwrapping)."""
        ids = [torch.arange(s.start, s.start + s.n_train) for s in self.videos]
        return torch.cat(ids) if ids else torch.zeros(0, dtype=torch.long)

    # --- building model inputs --------------------------------------------------------
    def pose_label(self, ids: torch.Tensor, device: torch.device) -> torch.Tensor:
        """float (len(ids), C_pose, S, S) in [-1, 1]: skeleton (+ 3D label) of frames t,
        t-1, t-2, ... (clamped at the video's first frame)."""
        blocks = []
        cur = ids
        for _ in range(self.pose_frames):
            blocks.append((self.skeleton, cur))
            if self.label3d is not None:
                blocks.append((self.label3d, cur))
            cur = self.prev[cur]
        return _to_unit(gather(blocks).to(device, non_blocking=True))

    def images(self, ids: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
        """Inputs and targets of single frames ``ids`` (for evaluation and rendering)."""
        iuv = take(self.iuv, ids).to(device, non_blocking=True)
        return {
            "pose": self.pose_label(ids, device),
            "iuv": iuv,
            "real": _to_unit(take(self.frames, ids).to(device, non_blocking=True)),
            "video": self.video_of[ids].to(device),
        }

    def batch(self, ids: torch.Tensor, device: torch.device) -> Batch:
        """The training batch of pairs (t-1, t) for frames ``ids`` (int64 (B,))."""
        both = torch.cat([self.prev[ids], ids])
        got = self.images(both, device)
        iuv = got["iuv"]
        mask = take(self.mask, both).to(device, non_blocking=True)
        flow = valid = None
        if self.flow is not None and self.flow_valid is not None:
            flow = take(self.flow, ids).to(device, non_blocking=True).float()
            valid = take(self.flow_valid, ids).to(device, non_blocking=True).float()
        return Batch(
            pose=got["pose"],
            iuv=iuv,
            real=got["real"],
            mask=mask.to(torch.float32).mul_(1.0 / 255.0),
            part=iuv[:, 0].long(),
            uv=_to_unit(iuv[:, 1:3]),
            video=got["video"],
            flow=flow,
            flow_valid=valid,
        )


def _to_unit(x: torch.Tensor) -> torch.Tensor:
    """uint8 -> float in [-1, 1] (in place after the conversion: no extra buffers)."""
    return x.to(torch.float32).mul_(2.0 / 255.0).sub_(1.0)


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
                "No training pairs: every video of the subject is shorter than 2 training frames.",
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
            take = min(need, self.n - self.pos)
            out.append(self.perm[self.pos : self.pos + take])
            self.pos += take
            need -= take
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
                f"The checkpoint was trained on {state['n']} training pairs; the subject now has "
                f"{self.n}.",
                "Its videos changed since; start a new run instead of --resume.",
            )
        self.pos, self.epoch = int(state["pos"]), int(state["epoch"])
        self.perm = state["perm"].clone()
        self.generator.set_state(state["generator"])


def resize_array(name: str, x: np.ndarray, size: int) -> torch.Tensor:
    """One chunk of prepared array ``name`` (numpy, channels last, (n, S, S[, C])) -> an
    (n, C, size, size) tensor: area for images and flow (whose vectors are scaled), nearest
    for IUV (part ids are never averaged), all-covered-pixels-valid for ``flow_valid``."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim == 3:  # (n, H, W) -> (n, H, W, 1)
        t = t.unsqueeze(-1)
    t = t.permute(0, 3, 1, 2)
    src = t.shape[-1]
    if t.shape[-2] != src:
        raise InputError(
            f"Array '{name}' is not square ({tuple(x.shape)}); ptx expects canonical frames."
        )
    if name == "flow_valid":
        t = (t != 0).float()
        if src != size:  # a pixel is valid only if every source pixel it covers is
            t = 1.0 - F.adaptive_max_pool2d(1.0 - t, size)
        return t.to(torch.uint8)
    if src == size:
        return t.contiguous()
    if name == "iuv":
        return F.interpolate(t.float(), size=(size, size), mode="nearest-exact").to(torch.uint8)
    if name == "flow":
        return (F.interpolate(t.float(), size=(size, size), mode="area") * (size / src)).half()
    out = F.interpolate(t.float(), size=(size, size), mode="area")
    return out.round_().clamp_(0, 255).to(torch.uint8)
