"""Fixtures of the CLI tests: one prepared and trained synthetic subject (built once per
session), and a copy of it for each test to damage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from trained_subject import Ctx, build

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """The trained subject (:func:`trained_subject.build`), shared read-only."""
    return build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def ctx(base, tmp_path) -> Ctx:
    """A copy of :func:`base` for one test to damage."""
    src, video = base
    ws = tmp_path / "ws"
    shutil.copytree(src, ws, ignore=shutil.ignore_patterns("lock", "*.lock"))
    w = Workspace(ws)
    store = VideoStore(w, w.video_ids()[0])
    run = next((ws / "runs" / "alice" / "d2g").iterdir())
    return Ctx(ws, video, tmp_path, store, run)
