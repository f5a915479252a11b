"""Shared fixtures: tiny generated clips, an isolated workspace, an in-process CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ptx.cache.workspace import Workspace
from ptx.io.testclips import write_clip


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own workspace and weights folder; nothing touches the home dir."""
    monkeypatch.setenv("PTX_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.delenv("PTX_CHUNK_FRAMES", raising=False)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


@pytest.fixture
def clip(tmp_path: Path):
    """``clip(name="c.mp4", **write_clip kwargs) -> Path`` writes a test clip in tmp_path."""

    def make(name: str = "clip.mp4", **kwargs) -> Path:
        return write_clip(tmp_path / name, **kwargs)

    return make


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture):
    """Run ``ptx`` in-process: ``cli("prepare", path, ...) -> CliResult``."""
    from ptx.cli.main import run

    def invoke(*args: str | os.PathLike) -> CliResult:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke
