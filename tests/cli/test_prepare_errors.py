"""Every bad input gets one line on stderr, a non-zero exit, no traceback, nothing half-marked."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

from ptx.cache.store import VideoStore
from ptx.io.testclips import write_audio_only


def assert_one_line_error(res, code: int, *fragments: str) -> None:
    assert res.code == code, (res.code, res.err)
    lines = res.err.strip().splitlines()
    assert len(lines) == 1, res.err
    assert lines[0].startswith("ptx: error: "), lines[0]
    assert "Traceback" not in res.err
    for frag in fragments:
        assert frag in lines[0], (frag, lines[0])


def nothing_complete(ws: Path) -> bool:
    """No stage record anywhere in the workspace says 'complete'."""
    return not any('"status": "complete"' in p.read_text() for p in ws.rglob("records/*.json"))


def test_missing_file(cli, tmp_path):
    res = cli("prepare", tmp_path / "nope.mp4")
    assert_one_line_error(res, 2, "No such file", "nope.mp4")
    assert not (tmp_path / "ws").exists()


def test_directory_without_frames(cli, tmp_path):
    res = cli("prepare", tmp_path)  # a folder is a frame sequence; this one has none
    assert_one_line_error(res, 2, "No PNG or JPEG frames in", str(tmp_path))


def test_zero_byte_file(cli, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert_one_line_error(cli("prepare", empty), 2, "empty (0 bytes)")


def test_text_file_named_mp4(cli, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    assert_one_line_error(cli("prepare", fake), 2, "not a readable video")
    assert not (tmp_path / "ws" / "videos").exists()


def test_truncated_mp4_without_index(cli, clip, tmp_path):
    path = clip(frames=40, width=64, height=48)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: gone
    assert_one_line_error(cli("prepare", cut), 2, "cut.mp4")
    assert nothing_complete(tmp_path / "ws")


def test_truncated_mp4_with_index_first(cli, clip, tmp_path):
    path = clip(frames=60, width=64, height=48, faststart=True)
    data = path.read_bytes()
    cut = tmp_path / "cut fast.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    res = cli("prepare", cut, "--until", "extract")
    assert_one_line_error(res, 2, "truncated", "--end")
    assert nothing_complete(tmp_path / "ws")


def test_audio_only(cli, tmp_path):
    path = write_audio_only(tmp_path / "song.mp4")
    assert_one_line_error(cli("prepare", path), 2, "no video stream")


def test_no_frame_in_the_chosen_range(cli, clip, tmp_path):
    path = clip("short.mp4", frames=6)  # (a video of one frame is a photo: tests/pipeline)
    res = cli("prepare", path, "--until", "extract", "--start", "0.2", "--end", "0.21")
    assert_one_line_error(res, 2, "no frame in the chosen range")
    assert nothing_complete(tmp_path / "ws")


@pytest.mark.parametrize("name", ["my clip.mp4", "clé vidéo ü.mp4", 'it\'s "quoted".mp4'])
def test_awkward_paths_work(cli, clip, tmp_path, name):
    path = clip(name, frames=6)
    res = cli("prepare", path, "--until", "extract")
    assert res.code == 0, res.err
    status = cli("status")
    assert status.code == 0 and "complete" in status.out


@pytest.mark.parametrize("bad", ["../x", "/etc", "", "a/b", ".hidden", ".."])
def test_subject_names_that_escape_the_workspace(cli, clip, tmp_path, bad):
    path = clip(frames=6)
    res = cli("prepare", path, "--subject", bad)
    assert_one_line_error(res, 2, "Invalid subject name")
    assert not (tmp_path / "ws").exists()
    assert not (tmp_path / "x.json").exists()


def test_unwritable_workspace(cli, clip, tmp_path):
    path = clip(frames=6)
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    res = cli("prepare", path, "--workspace", blocker / "ws")
    assert_one_line_error(res, 2, "workspace")


def test_unknown_stage_and_setting(cli, clip):
    path = clip(frames=6)
    assert_one_line_error(cli("prepare", path, "--until", "nosuch"), 2, "No stage named")
    res = cli("prepare", path, "--set", "extract.colour=1")
    assert_one_line_error(res, 2, "has no setting 'colour'")


def test_disk_full_during_a_stage_keeps_committed_chunks(cli, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_CHUNK_FRAMES", "4")
    path = clip(frames=24)
    # the disk fills inside Zarr's chunk write, on the third chunk
    real_setitem = zarr.Array.__setitem__
    calls = {"n": 0}

    def failing_setitem(self, key, value):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_setitem(self, key, value)

    monkeypatch.setattr(zarr.Array, "__setitem__", failing_setitem)
    res = cli("prepare", path, "--until", "extract")
    assert_one_line_error(res, 4, "Disk full", "Free some space")
    assert nothing_complete(tmp_path / "ws")
    rec_path = next((tmp_path / "ws").rglob("records/extract.json"))
    kept = json.loads(rec_path.read_text())["chunks_done"]
    assert 2 not in kept and {0, 1} <= set(kept)
    status = cli("status")
    assert "partial" in status.out and f"{len(kept)} of 6 chunks" in status.out
    monkeypatch.setattr(zarr.Array, "__setitem__", real_setitem)
    again = cli("prepare", path, "--until", "extract")
    assert again.code == 0, again.err
    rec = json.loads(rec_path.read_text())
    assert rec["resumed_chunks"] == len(kept) and rec["status"] == "complete"
    vid = next((tmp_path / "ws" / "videos").iterdir()).name
    from ptx.cache.workspace import Workspace
    from ptx.io.testclips import pattern_frame

    frames = VideoStore(Workspace(tmp_path / "ws"), vid).read("frames_analysis")
    assert all(np.array_equal(f, pattern_frame(i, 64, 48)) for i, f in enumerate(frames))


def test_lock_held_by_another_process(cli, clip, tmp_path):
    from ptx.cache.workspace import Workspace

    path = clip(frames=6)
    assert cli("prepare", path, "--until", "extract").code == 0
    ws = Workspace(tmp_path / "ws")
    store = VideoStore(ws, ws.video_ids()[0])
    import os

    with store.lock():
        res = cli("prepare", path, "--until", "extract", "--force", "extract")
    assert_one_line_error(res, 3, "in use by pid", str(os.getpid()))


def test_status_without_workspace(cli, tmp_path):
    shutil.rmtree(tmp_path / "ws", ignore_errors=True)
    assert_one_line_error(cli("status"), 2, "No workspace")
