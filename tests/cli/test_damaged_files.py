"""Each small file ptx keeps, garbled: `ptx status` still runs and names it, the command
that needs it stops with exit 7 naming the file (or repairs it), and the fix it gives works."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from trained_subject import prepare_args

from ptx.cache.workspace import Workspace
from ptx.tools.status import run_status, workspace_damage, workspace_status

pytestmark = pytest.mark.slow

GARBAGE = b"\x00\x9f{garbage"


@dataclass
class Small:
    id: str
    path: Callable[[Any], Path]
    needs: Callable[[Any], list]
    """The command that reads the file: it fails with 7 naming the file, unless ``heals``."""
    fix: Callable[[Any], list] | None = None
    """The command the error's hint names (then the first command works again)."""
    heals: bool = False


def train(c: Any) -> list:
    return ["train", "--subject", "alice", "--steps", "1", "--workspace", c.ws]


def resume(c: Any) -> list:
    return ["train", "--subject", "alice", "--resume", "--workspace", c.ws]


def repair(c: Any) -> list:
    return ["verify", "--repair", "--workspace", c.ws]


FILES = [
    Small("stage-record", lambda c: c.store.records_dir / "mask.json", train, repair),
    Small("settings", lambda c: c.store.dir / "settings.json", lambda c: ["verify", "--workspace", c.ws], repair),
    Small("source", lambda c: c.store.dir / "source.json", lambda c: ["verify", "--workspace", c.ws], prepare_args),
    Small("subject", lambda c: c.ws / "subjects" / "alice.json", train),
    Small("workspace", lambda c: c.ws / "workspace.json", prepare_args),
    Small("group-metadata", lambda c: c.store.zarr_path / "zarr.json", train, repair),
    Small("array-metadata", lambda c: c.store.zarr_path / "mask" / "zarr.json", train, repair),
    Small("run-config", lambda c: c.run / "config.yaml", resume),
    Small("last-pointer", lambda c: c.run / "checkpoints" / "last", resume, heals=True),
]  # fmt: skip


@pytest.mark.parametrize("small", FILES, ids=[f.id for f in FILES])
def test_a_garbled_small_file_is_named_and_status_still_runs(small: Small, ctx, cli):
    path = small.path(ctx)
    path.write_bytes(GARBAGE)
    res = cli("status", "--workspace", ctx.ws)
    assert res.code == 0, res.err
    ws = Workspace(ctx.ws)
    if small.id not in ("last-pointer",):
        text = " ".join(
            [*workspace_damage(ws)]
            + [s.detail for row in workspace_status(ws) for s in row.stages if s.state == "damaged"]
            + [c for r in run_status(ws) for c in r.changes]
        )
        assert path.name in text, text
    res = cli(*small.needs(ctx))
    if small.heals:
        assert res.code == 0, res.err
        return
    assert res.code == 7, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.err, res.err
    assert path.name in lines[0] or "damaged item" in lines[0], lines[0]
    if small.fix is not None:
        res = cli(*small.fix(ctx))
        assert res.code == 0, res.err
        assert cli("verify", "--workspace", ctx.ws).code == 0


def test_transfer_skips_a_truncated_newest_checkpoint_with_a_note(ctx, cli):
    newest = ctx.run / "checkpoints" / "step-000000004.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    out = ctx.tmp / "out.mp4"
    res = cli("transfer", "--source", ctx.video, "--target", "alice", "-o", out,
              "--workspace", ctx.ws)  # fmt: skip
    assert res.code == 0, res.err
    assert "step-000000004.pt is damaged (truncated)" in res.out
    assert "step-000000002.pt" not in res.err and out.is_file()


def test_a_damaged_run_config_still_renders_from_the_checkpoint(ctx, cli):
    (ctx.run / "config.yaml").write_bytes(GARBAGE)
    res = cli("render", "--subject", "alice", "-o", ctx.tmp / "r.mp4", "--workspace", ctx.ws)
    assert res.code == 0, res.err
    assert (ctx.tmp / "r.mp4").is_file()
