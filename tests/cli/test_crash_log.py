"""Internal errors: one line with exit 70, the traceback in the logs of the workspace in
use (never a workspace created just for it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptx.cache.workspace import Workspace


@pytest.fixture
def crashing_status(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("something unexpected")

    monkeypatch.setattr("ptx.cli.status.print_status", boom)


def test_a_crash_log_goes_to_the_workspace_given_on_the_command_line(
    crashing_status, cli, tmp_path, monkeypatch
):
    ws = Workspace.open(tmp_path / "mine")
    monkeypatch.chdir(tmp_path)
    res = cli("status", "--workspace", ws.root)
    assert res.code == 70 and res.err.count("\n") == 1
    assert "something unexpected" in res.err and str(ws.root / "logs") in res.err
    logs = list((ws.root / "logs").glob("ptx-crash-*.log"))
    assert len(logs) == 1 and "RuntimeError" in logs[0].read_text()
    assert not (tmp_path / "ptx-workspace").exists()
    assert not (tmp_path / "ws" / "logs").exists()  # not $PTX_WORKSPACE's


def test_a_crash_never_creates_a_workspace(tmp_path, monkeypatch):
    """Without an existing workspace the log goes to the temp folder, and neither the
    workspace named nor ./ptx-workspace is created."""
    import tempfile

    from ptx.cli.main import _log_crash

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PTX_WORKSPACE")
    missing = tmp_path / "nowhere"
    for argv in (["train", "--workspace", str(missing)], [f"--workspace={missing}"], ["demo"]):
        log = _log_crash(RuntimeError("x"), argv)
        assert log is not None and log.parent == Path(tempfile.gettempdir())
        log.unlink()
    assert not missing.exists() and not (tmp_path / "ptx-workspace").exists()
