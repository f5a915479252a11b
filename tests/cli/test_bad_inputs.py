"""A corpus of bad inputs across commands, as a new user and a hostile one would try them.

Every case runs against a copy of one prepared and trained workspace and asserts: the
documented exit code (2 bad input, 3 locked, 4 disk full, 7 damaged), exactly one line on
stderr naming what was wrong, no traceback, and that every file the workspace held before
(other than the one the case damaged on purpose) is still there, unchanged.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def manifest(ws: Path) -> dict[str, str]:
    out = {}
    for p in ws.rglob("*"):
        rel = p.relative_to(ws).as_posix()
        if p.is_file() and not rel.startswith(("logs/", "outputs/")) and p.name != "lock":
            out[rel] = hashlib.sha1(p.read_bytes()).hexdigest()
    return out


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(min(8, len(data))):
        data[len(data) // 2 + i - 4] ^= 0xA5
    path.write_bytes(bytes(data))


def write(path: Path, text: str | bytes) -> None:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


@dataclass
class Case:
    id: str
    args: Callable[[Any], list]
    code: int
    needle: str
    setup: Callable[[Any], Path | None] = field(default=lambda c: None)
    """Damages something; returns the path it changed on purpose (left out of the check)."""


W = ["--workspace"]


def ws_(c: Any) -> list:
    return [*W, c.ws]


CASES = [
    # --- prepare ------------------------------------------------------------------------
    Case("prepare-missing-file", lambda c: ["prepare", c.tmp / "nope.mp4", *ws_(c)], 2, "nope.mp4"),
    Case("prepare-text-file", lambda c: ["prepare", c.tmp / "t.mp4", *ws_(c)], 2, "not a readable video",
         lambda c: write(c.tmp / "t.mp4", "hello\n" * 40)),
    Case("prepare-unknown-stage-setting", lambda c: ["prepare", c.video, "--set", "warp.x=1", *ws_(c)], 2, "warp"),
    Case("prepare-bad-number", lambda c: ["prepare", c.video, "--set", "crop.size=big", *ws_(c)], 2, "crop.size"),
    Case("prepare-negative-tracker-segment",
         lambda c: ["prepare", c.video, "--set", "keypoints.tracker_segment=-1", *ws_(c)], 2, "tracker_segment"),
    Case("prepare-force-unknown", lambda c: ["prepare", c.video, "--force", "nope", *ws_(c)], 2, "nope"),
    Case("prepare-until-unknown", lambda c: ["prepare", c.video, "--until", "nope", *ws_(c)], 2, "nope"),
    Case("prepare-keypoints-missing-folder",
         lambda c: ["prepare", c.video, "--keypoints", f"openpose:{c.tmp}/none", *ws_(c)], 2, "does not exist"),
    Case("prepare-keypoints-bad-spec", lambda c: ["prepare", c.video, "--keypoints", "alphapose", *ws_(c)], 2, "--keypoints"),
    Case("prepare-subject-escape", lambda c: ["prepare", c.video, "--subject", "../x", *ws_(c)], 2, "Invalid subject"),
    Case("prepare-iuv-bad-spec", lambda c: ["prepare", c.video, "--iuv", "foo", *ws_(c)], 2, "--iuv"),
    Case("prepare-fit-on-cuda", lambda c: ["prepare", c.video, "--set", "fit.device=cuda", *ws_(c)], 2, "CUDA"),
    Case("prepare-workspace-is-a-file", lambda c: ["prepare", c.video, *W, c.tmp / "f"], 2, "not a folder",
         lambda c: write(c.tmp / "f", "x")),
    Case("prepare-damaged-workspace-json", lambda c: ["prepare", c.video, "--subject", "alice", *ws_(c)], 7,
         "workspace.json", lambda c: write(c.ws / "workspace.json", "{\"layout\": ") or c.ws / "workspace.json"),
    Case("prepare-damaged-subject-file", lambda c: ["prepare", c.video, "--subject", "alice", *ws_(c)], 7,
         "alice.json", lambda c: write(c.ws / "subjects/alice.json", b"\x00\x01garbage") or c.ws / "subjects/alice.json"),
    Case("prepare-locked-video", lambda c: ["prepare", c.video, "--subject", "alice", *ws_(c)], 3, "in use",
         lambda c: hold_lock(c.store.dir / "lock")),
    # --- status, inspect, verify ------------------------------------------------------
    Case("status-no-workspace", lambda c: ["status", *W, c.tmp / "none"], 2, "No workspace"),
    Case("status-unknown-subject", lambda c: ["status", "bob", *ws_(c)], 2, "bob"),
    Case("status-bad-subject-name", lambda c: ["status", "../etc", *ws_(c)], 2, "Invalid subject"),
    Case("inspect-unknown", lambda c: ["inspect", "nobody", *ws_(c)], 2, "nobody"),
    Case("inspect-damaged-record", lambda c: ["inspect", "alice", *ws_(c)], 7, "mask.json",
         lambda c: write(c.store.records_dir / "mask.json", "[1, 2") or c.store.records_dir / "mask.json"),
    Case("inspect-deleted-chunk", lambda c: ["inspect", "alice", *ws_(c)], 7, "'frames'",
         lambda c: c.chunk("frames", 1).unlink() or c.chunk("frames", 1)),
    Case("verify-unknown", lambda c: ["verify", "nobody", *ws_(c)], 2, "nobody"),
    Case("verify-garbled-chunk", lambda c: ["verify", *ws_(c)], 7, "damaged item",
         lambda c: garble(c.chunk("mask", 0)) or c.chunk("mask", 0)),
    # --- synth --------------------------------------------------------------------------
    Case("synth-huge", lambda c: ["synth", c.tmp / "s.mp4", "--size", "100000"], 2, "--size 100000"),
    Case("synth-odd-size", lambda c: ["synth", c.tmp / "s.mp4", "--size", "33"], 2, "--size 33"),
    Case("synth-one-frame", lambda c: ["synth", c.tmp / "s.mp4", "--frames", "1"], 2, "--frames"),
    Case("synth-too-much-memory", lambda c: ["synth", c.tmp / "s.mp4", "--frames", "100000", "--size", "512"], 2, "GiB"),
    Case("synth-unknown-motion", lambda c: ["synth", c.tmp / "s.mp4", "--motion", "moonwalk"], 2, "moonwalk"),
    Case("synth-avi", lambda c: ["synth", c.tmp / "s.avi"], 2, ".mp4"),
    Case("synth-missing-folder", lambda c: ["synth", c.tmp / "no/s.mp4"], 2, "does not exist"),
    # --- train --------------------------------------------------------------------------
    Case("train-unknown-subject", lambda c: ["train", "--subject", "bob", *ws_(c)], 2, "bob"),
    Case("train-unknown-method", lambda c: ["train", "--subject", "alice", "--method", "nerf", *ws_(c)], 2, "nerf"),
    Case("train-unknown-preset", lambda c: ["train", "--subject", "alice", "--preset", "huge", *ws_(c)], 2, "huge"),
    Case("train-checkpoint-every-0",
         lambda c: ["train", "--subject", "alice", "--set", "checkpoint_every=0", *ws_(c)], 2, "checkpoint_every"),
    Case("train-unknown-setting", lambda c: ["train", "--subject", "alice", "--set", "speed=9", *ws_(c)], 2, "speed"),
    Case("train-cuda-without-cuda", lambda c: ["train", "--subject", "alice", "--device", "cuda", *ws_(c)], 2, "CUDA"),
    Case("train-unknown-device", lambda c: ["train", "--subject", "alice", "--device", "tpu", *ws_(c)], 2, "tpu"),
    Case("train-lr-not-a-number", lambda c: ["train", "--subject", "alice", "--set", "lr=fast", *ws_(c)], 2, "lr"),
    Case("train-negative-steps", lambda c: ["train", "--subject", "alice", "--steps", "-1", *ws_(c)], 2, "steps"),
    Case("train-resume-missing-run", lambda c: ["train", "--subject", "alice", "--resume", "--run", c.tmp / "x", *ws_(c)], 2, "config.yaml"),
    Case("train-resume-changes-size",
         lambda c: ["train", "--subject", "alice", "--resume", "--set", "size=64", *ws_(c)], 2, "size"),
    Case("train-resume-ambiguous", lambda c: ["train", "--subject", "alice", "--resume", *ws_(c)], 2, "--run",
         lambda c: (c.run.parent / "29990101-000000").mkdir()),
    Case("train-deleted-chunk-never-zeros", lambda c: ["train", "--subject", "alice", *ws_(c)], 7, "frames 8-15",
         lambda c: c.chunk("frames", 1).unlink() or c.chunk("frames", 1)),
    Case("train-garbled-chunk", lambda c: ["train", "--subject", "alice", *ws_(c)], 7, "'iuv'",
         lambda c: garble(c.chunk("iuv", 2)) or c.chunk("iuv", 2)),
    Case("train-damaged-subject", lambda c: ["train", "--subject", "alice", *ws_(c)], 7, "alice.json",
         lambda c: write(c.ws / "subjects/alice.json", "{}") or c.ws / "subjects/alice.json"),
    Case("train-resume-damaged-config", lambda c: ["train", "--subject", "alice", "--resume", *ws_(c)], 7,
         "config.yaml", lambda c: write(c.run / "config.yaml", "config: [\n") or c.run / "config.yaml"),
    Case("train-damaged-array-metadata", lambda c: ["train", "--subject", "alice", *ws_(c)], 7, "zarr.json",
         lambda c: write(c.store.zarr_path / "mask/zarr.json", "{") or c.store.zarr_path / "mask/zarr.json"),
    # --- transfer, render, score --------------------------------------------------------
    Case("transfer-output-size-0",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", "--output-size", "0", *ws_(c)], 2, "--output-size 0"),
    Case("transfer-output-size-negative",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", "--output-size", "-5", *ws_(c)], 2, "--output-size"),
    Case("transfer-missing-output-folder",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", "-o", c.tmp / "no/o.mp4", *ws_(c)], 2, "does not exist"),
    Case("transfer-avi", lambda c: ["transfer", "--source", c.video, "--target", "alice", "-o", c.tmp / "o.avi", *ws_(c)], 2, ".mp4"),
    Case("transfer-bad-retarget",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", "--retarget", "sideways", *ws_(c)], 2, "sideways"),
    Case("transfer-alpha-and-background",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", "--alpha", "--background", c.video, *ws_(c)], 2, "exclude"),
    Case("transfer-missing-background",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", "--background", c.tmp / "bg.png", *ws_(c)], 2, "bg.png"),
    Case("transfer-unknown-target", lambda c: ["transfer", "--source", c.video, "--target", "bob", *ws_(c)], 2, "bob"),
    Case("transfer-missing-source", lambda c: ["transfer", "--source", c.tmp / "s.mp4", "--target", "alice", *ws_(c)], 2, "s.mp4"),
    Case("transfer-unknown-method",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", "--method", "nerf", *ws_(c)], 2, "nerf"),
    Case("transfer-every-checkpoint-damaged",
         lambda c: ["transfer", "--source", c.video, "--target", "alice", *ws_(c)], 7, "Every checkpoint",
         lambda c: [truncate(p) for p in (c.run / "checkpoints").glob("step-*.pt")] and None),
    Case("transfer-unsafe-checkpoint", lambda c: ["transfer", "--source", c.video, "--target", "alice", *ws_(c)], 2,
         "Refused", lambda c: plant_pickle(c.run / "checkpoints" / "step-000000004.pt")),
    Case("render-unknown-subject", lambda c: ["render", "--subject", "bob", *ws_(c)], 2, "bob"),
    Case("render-missing-output-folder",
         lambda c: ["render", "--subject", "alice", "-o", c.tmp / "no/r.mp4", *ws_(c)], 2, "does not exist"),
    Case("render-bad-frames", lambda c: ["render", "--subject", "alice", "--frames", "some", *ws_(c)], 2, "some"),
    Case("score-json-missing-folder",
         lambda c: ["score", "--subject", "alice", "--json", c.tmp / "no/s.json", *ws_(c)], 2, "does not exist"),
    Case("score-unknown-run", lambda c: ["score", "--subject", "alice", "--run", "nope", *ws_(c)], 2, "nope"),
    Case("score-unknown-subject", lambda c: ["score", "--subject", "bob", *ws_(c)], 2, "bob"),
]  # fmt: skip


def hold_lock(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.pwrite(fd, b"4242", 0)
    _HELD.append(fd)


_HELD: list[int] = []


def truncate(path: Path) -> Path:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def plant_pickle(path: Path) -> Path:
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    import torch

    torch.save({"format": "ptx-checkpoint", "x": Evil()}, path)
    assert pickle  # the payload is a pickle that would run code
    return path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, ctx, cli):
    damaged = case.setup(ctx)
    before = manifest(ctx.ws)
    try:
        res = cli(*case.args(ctx))
    finally:
        while _HELD:
            os.close(_HELD.pop())
    assert res.code == case.code, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("ptx: error: ") and "Traceback" not in res.err
    assert case.needle in lines[0], lines[0]
    after = manifest(ctx.ws)
    skip = {damaged.relative_to(ctx.ws).as_posix()} if isinstance(damaged, Path) else set()
    lost = [k for k, v in before.items() if k not in skip and after.get(k) != v]
    assert not lost, lost


def test_the_corpus_is_large_and_covers_every_command():
    assert len(CASES) >= 40
    fake = SimpleNamespace(ws=Path("w"), video=Path("v"), tmp=Path("t"), run=Path("r"))
    commands = {c.args(fake)[0] for c in CASES}
    assert commands >= {"prepare", "status", "inspect", "verify", "synth", "train", "transfer",
                        "render", "score"}  # fmt: skip
