"""A full disk anywhere is exit 4 with one line, and leaves no partial file behind.

The disk is "full" through the file size limit (RLIMIT_FSIZE): a write past it fails with
EFBIG, which ptx treats as a full disk (Python ignores the SIGXFSZ that comes with it)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def ptx_limited(args: list, limit: int, ws: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if ws is not None:
        env["PTX_WORKSPACE"] = str(ws)

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "ptx.cli.main", *map(str, args)],
        env=env, capture_output=True, text=True, preexec_fn=limit_files, timeout=600,
    )  # fmt: skip


def one_line(res: subprocess.CompletedProcess, code: int, needle: str) -> None:
    """Exit ``code``; the error is one line, the last on stderr (after any progress and
    notes), and names ``needle``."""
    assert res.returncode == code, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("ptx: error:")]
    assert len(errors) == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.rstrip().endswith(errors[0]) and needle in errors[0], errors[0]


def test_disk_full_while_train_saves_a_checkpoint(ctx):
    """torch.save reports a failed write as 'unexpected pos'; ptx says disk full, and the
    temp file of the save is gone."""
    res = ptx_limited(
        ["train", "--subject", "alice", "--steps", "1", "--set", "uv_warmup_steps=0",
         "--set", "eval_every=0", "--set", "sample_every=0", "--set", "tensorboard=false"],
        4 << 20, ctx.ws,
    )  # fmt: skip
    one_line(res, 4, "Disk full while writing a checkpoint")
    newest = sorted((ctx.ws / "runs" / "alice" / "d2g").iterdir())[-1]
    assert newest != ctx.run
    assert not [p.name for p in (newest / "checkpoints").iterdir() if p.name != "lock"]


def test_disk_full_while_synth_writes_leaves_nothing(tmp_path):
    out = tmp_path / "s.mp4"
    res = ptx_limited(["synth", out, "--frames", "24", "--size", "128"], 200_000)
    one_line(res, 4, "Disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_disk_full_while_transfer_writes_leaves_no_partial_video(ctx):
    out = ctx.tmp / "out.mp4"
    res = ptx_limited(
        ["transfer", "--source", ctx.video, "--target", "alice", "-o", out, "--output-size",
         "512", "--side-by-side"], 60_000, ctx.ws,
    )  # fmt: skip
    one_line(res, 4, "Disk full")
    assert not [p.name for p in ctx.tmp.iterdir() if p.name.endswith(".mp4")]
