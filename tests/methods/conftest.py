"""Fixtures of the methods' tests."""

from __future__ import annotations

import pytest
from toy_subjects import add_toy_subject  # same folder (pytest puts it on sys.path)

from ptx.cache.workspace import Workspace


@pytest.fixture
def toy_ws(tmp_path, monkeypatch) -> Workspace:
    """A workspace with subject ``toy``: 12 paper-doll frames at 32 px (no VGG weights)."""
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path / "no-weights"))
    ws = Workspace.open(tmp_path / "ws")
    add_toy_subject(ws, "toy", frames=12, size=32, seed=0)
    return ws
