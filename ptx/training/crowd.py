"""A synthetic crowd in a workspace, for one-shot tests and benchmarks: N different
people (``ptx.body.synth``), each a subject with one video whose ground-truth arrays
(frames, IUV, mask, keypoints, background) are written straight into its store, as the
preparation stages would write them (no decoding, no fitting: seconds, not minutes).

With ``motion_seed`` every person performs the identical motion (cross-person ground
truth); without it each person's motion follows from their own seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ptx.body.synth import SynthConfig, SynthSubject, synth_subject
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace

CROWD_ARRAYS = ("frames", "iuv", "mask", "keypoints", "label3d", "background")


def person_name(i: int) -> str:
    return f"person{i:03d}"


def store_person(ws: Workspace, name: str, subject: SynthSubject) -> str:
    """Write one synthetic person's arrays as subject ``name``'s video; its id."""
    vid = f"crowd-{name}"
    store = VideoStore(ws, vid)
    for array in CROWD_ARRAYS:
        a = np.asarray(getattr(subject, array))
        store.create_array(array, a.shape, a.dtype, time_axis=array != "background")
        store.write(array, 0, a)
    ws.add_video_to_subject(name, vid)
    return vid


def store_crowd(
    ws: Workspace,
    people: int,
    frames: int = 24,
    size: int = 64,
    seed: int = 100,
    motion_seed: int | None = None,
    motions: tuple[str, ...] = ("dance", "wave", "walk"),
) -> list[str]:
    """``people`` synthetic people as subjects ``person000``...; their names. Person i has
    appearance seed ``seed + i`` and motion ``motions[i % len(motions)]`` (all the first
    motion, with ``motion_seed``)."""
    names = []
    for i in range(people):
        motion = motions[0] if motion_seed is not None else motions[i % len(motions)]
        cfg = SynthConfig(motion, frames=frames, size=size, seed=seed + i)
        if motion_seed is not None:
            cfg = replace(cfg, motion_seed=motion_seed)
        name = person_name(i)
        store_person(ws, name, synth_subject(cfg))
        names.append(name)
    return names
