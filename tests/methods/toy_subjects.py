"""Helpers of the methods' tests: paper-doll subjects (``ptx.body.toydata``) in a
workspace, a baseline PSNR, bit-for-bit comparison of states."""

from __future__ import annotations

import numpy as np
import torch

from ptx.body.toydata import make_toy_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace


def add_toy_subject(ws: Workspace, subject: str, frames: int, size: int, seed: int) -> None:
    """Write a paper-doll video into ``ws`` as the only video of ``subject``."""
    toy = make_toy_subject(frames=frames, size=size, seed=seed)
    store = VideoStore(ws, f"video-{subject}")
    for name, a in toy.arrays().items():
        store.create_array(name, a.shape, a.dtype, time_axis=name != "background")
        store.write(name, 0, a)
    ws.add_video_to_subject(subject, f"video-{subject}")


def mean_frame_psnr(frames: int, size: int, seed: int, holdout: float = 0.1) -> float:
    """Held-out PSNR (dB, mean over frames) of the mean training frame of a paper-doll
    video: what a method that learns the average picture but not the pose reaches."""
    f = make_toy_subject(frames=frames, size=size, seed=seed).frames.astype(np.float64)
    cut = frames - max(1, round(frames * holdout))
    mse = ((f[cut:] - f[:cut].mean(0)) ** 2).mean(axis=(1, 2, 3))
    return float((10 * np.log10(255.0**2 / mse)).mean())


def same(a, b) -> bool:
    """Nested dicts/lists of tensors and plain values, equal bit for bit."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
