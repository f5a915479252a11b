"""URL workspaces: the ptx command works on a local copy of an fsspec URL (tests in
test_remote.py); one it cannot write, or whose filesystem is not installed, is refused in
one line, and no local folder is named after it; the library itself takes folders."""

from __future__ import annotations

import importlib.util

import pytest

from ptx.cache.workspace import Workspace, default_workspace
from ptx.errors import WorkspaceError

REFUSED = [
    ("https://host/ws", "ptx: error: Workspace https://host/ws cannot be written (https:// is "
     "read-only). Use s3://, gs:// or another writable fsspec URL, or a local folder."),
    pytest.param(
        "gs://b/x",
        "ptx: error: Workspace gs://b/x: Please install gcsfs to access Google Storage. Install "
        "the filesystem package for its scheme (s3fs for s3://, gcsfs for gs://), or use a "
        "local folder.",
        marks=pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None,
                                 reason="gcsfs is installed"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("url", "line"), REFUSED)
def test_url_workspaces_that_cannot_work_are_refused(url, line, tmp_path, monkeypatch, cli, clip):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PTX_REMOTE_CACHE", str(tmp_path / "cache"))
    video = clip("v.mp4", frames=4)
    res = cli("prepare", video, "--workspace", url, "--until", "extract")
    assert res.code == 2, res.err
    assert res.err.strip().splitlines() == [line]
    scheme = url.split(":")[0]
    assert not (tmp_path / f"{scheme}:").exists() and not (tmp_path / "cache").exists()
    monkeypatch.setenv("PTX_WORKSPACE", url)
    res = cli("status")
    assert res.code == 2 and res.err.strip().splitlines() == [line]


@pytest.mark.parametrize("url", ["s3://bucket/ws", "memory://ws"])
def test_the_library_takes_folders(url, monkeypatch):
    monkeypatch.setenv("PTX_WORKSPACE", url)
    with pytest.raises(WorkspaceError, match="is a URL; the library works on a local copy"):
        default_workspace()
    with pytest.raises(WorkspaceError):
        Workspace.open(url)


def test_local_paths_with_colons_are_still_folders(tmp_path):
    assert Workspace(tmp_path / "a:b").root.name == "a:b"
    assert Workspace("C:/data/ws").root.as_posix().endswith("C:/data/ws")
