"""A URL is no workspace: refused in one line, and no local folder named after it."""

from __future__ import annotations

import pytest

from ptx.cache.workspace import Workspace, default_workspace
from ptx.errors import WorkspaceError


@pytest.mark.parametrize("url", ["s3://bucket/ws", "gs://b/x", "https://host/ws"])
def test_url_workspaces_are_refused(url, tmp_path, monkeypatch, cli, clip):
    monkeypatch.chdir(tmp_path)
    video = clip("v.mp4", frames=4)
    res = cli("prepare", video, "--workspace", url, "--until", "extract")
    assert res.code == 2, res.err
    assert res.err.strip().splitlines() == [
        f"ptx: error: Workspace {url} is a URL; ptx workspaces are local folders for now. "
        "Give a local (or mounted) folder with --workspace or PTX_WORKSPACE."
    ]
    scheme = url.split(":")[0]
    assert not (tmp_path / f"{scheme}:").exists()
    monkeypatch.setenv("PTX_WORKSPACE", url)
    with pytest.raises(WorkspaceError, match="is a URL"):
        default_workspace()
    with pytest.raises(WorkspaceError):
        Workspace.open(url)


def test_local_paths_with_colons_are_still_folders(tmp_path):
    assert Workspace(tmp_path / "a:b").root.name == "a:b"
    assert Workspace("C:/data/ws").root.as_posix().endswith("C:/data/ws")
