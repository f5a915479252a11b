"""Frame folders and patterns are accepted wherever a video is."""

from __future__ import annotations

import cv2
import numpy as np

from ptx.cache.store import VideoStore
from ptx.io.testclips import pattern_frame
from ptx.pipeline.runner import prepare_video
from ptx.tools.inspect import resolve_videos


def _frames(folder, n=6, w=48, h=40):
    folder.mkdir()
    for i in range(n):
        img = cv2.cvtColor(pattern_frame(i, w, h), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / f"img_{i + 1:04d}.png"), img)
    return folder


def test_a_frame_folder_is_prepared_like_a_video_and_cached(tmp_path, workspace):
    folder = _frames(tmp_path / "My Frames")
    res = prepare_video(folder, workspace, until="extract")
    assert res.subject == "My-Frames" and res.outcomes[0].status == "ran"
    store = VideoStore(workspace, res.video_id)
    frames = store.read("frames_analysis")
    assert len(frames) == 6 and all(
        np.array_equal(f, pattern_frame(i, 48, 40)) for i, f in enumerate(frames)
    )
    assert store.meta("extract")["fps"] == 25.0
    again = prepare_video(tmp_path / "My Frames" / "img_%04d.png", workspace, until="extract")
    assert again.video_id == res.video_id and again.outcomes[0].status == "cached"
    assert resolve_videos(workspace, str(folder)) == [("My Frames", res.video_id)]
    other = prepare_video(folder, workspace, "x", {"extract": {"fps": 12}}, until="extract")
    assert other.video_id != res.video_id  # shown at another rate: another source
    assert VideoStore(workspace, other.video_id).meta("extract")["fps"] == 12.0


def test_cli_prepares_a_pattern(cli, tmp_path):
    _frames(tmp_path / "seq", n=4)
    res = cli("prepare", tmp_path / "seq" / "img_%04d.png", "--until", "extract", "-s", "seq")
    assert res.code == 0, res.err
    assert "of subject seq" in res.out
    res = cli("prepare", tmp_path / "empty_%03d.png", "--until", "extract")
    assert res.code == 2 and "No PNG or JPEG frames" in res.err
