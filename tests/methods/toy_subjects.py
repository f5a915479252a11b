"""Helpers of the methods' tests: paper-doll subjects (``ptx.body.toydata``) in a
workspace, a baseline PSNR, bit-for-bit comparison of states, and the one-shot methods'
learning floor."""

from __future__ import annotations

import numpy as np
import torch

from ptx.body.toydata import make_toy_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.perform.oneshot import self_reconstruction
from ptx.perform.render import load_model
from ptx.training.crowd import store_crowd
from ptx.training.shared_run import train_shared


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


def assert_one_shot_training_lifts(root, method: str, cfg: dict, margin: float) -> None:
    """Train ``method`` on a crowd of 4 people at 32 px (1 held out) with ``cfg`` over the
    ``tiny`` preset: the held-out person's one-shot PSNR must rise by more than ``margin``
    dB over the untrained (step 0) model, in training's evaluation and in the recurrent
    render of the one-shot protocol alike."""
    ws = Workspace.open(root / "ws")
    names = store_crowd(ws, 4, frames=12, size=32)
    res = train_shared(ws, names, 1, "tiny", cfg, method=method)
    assert res.final["psnr"] > res.initial["psnr"] + margin, (res.initial, res.final)
    store = VideoStore(ws, ws.subject(names[-1])["videos"][0])
    scores = self_reconstruction(load_model(res.run_dir, "cpu"), store)
    assert scores.psnr.mean() > res.initial["psnr"] + margin, scores.psnr.mean()
