"""`ptx inspect` contact sheets, and the person options of `ptx prepare`."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ptx.io.openpose import write_openpose_frames
from ptx.tools.inspect import pick_frames


def _figure(n: int, w: int, h: int) -> np.ndarray:
    """A stick figure (BODY_25, source pixels) sliding right: float32 (n, 25, 3)."""
    rng = np.random.default_rng(0)
    base = np.column_stack([rng.uniform(-0.15, 0.15, 25), np.linspace(0.1, 0.95, 25)])
    kp = np.zeros((n, 25, 3), np.float32)
    for t in range(n):
        kp[t, :, :2] = base * 0.7 * h + (w * (0.35 + 0.3 * t / n), 0.0)
        kp[t, :, 2] = 0.9
    return kp


@pytest.fixture
def prepared(cli, clip, tmp_path) -> tuple[Path, Path]:
    """A 10-frame clip prepared through poselabel from OpenPose files in which frame 6
    has nobody; returns (video, workspace)."""
    video = clip("dancer.mp4", frames=10, width=160, height=120)
    folder = tmp_path / "json"
    present = np.ones(10, bool)
    present[6] = False
    write_openpose_frames(folder, _figure(10, 160, 120), people_present=present)
    ws = tmp_path / "ws"
    res = cli(
        "prepare", video, "-w", ws, "--keypoints", f"openpose:{folder}", "--size", "96",
        "--until", "poselabel",
    )  # fmt: skip
    assert res.code == 0, res.err
    return video, ws


def _red_text(img: np.ndarray) -> bool:
    r, g, b = img[..., 0].astype(int), img[..., 1].astype(int), img[..., 2].astype(int)
    return bool(((r > 200) & (g < 120) & (b < 120)).any())


def test_inspect_writes_a_sheet_with_every_panel(cli, prepared, tmp_path):
    video, ws = prepared
    out = tmp_path / "sheet.png"
    res = cli("inspect", "dancer", "-w", ws, "-o", out, "--tile", "64")
    assert res.code == 0, res.err
    assert str(out) in res.out.replace("\n", "")
    sheet = cv2.cvtColor(cv2.imread(str(out)), cv2.COLOR_BGR2RGB)
    # 10 frames, each a cell of 3 panels (frame, mask, poselabel) of the canonical frame's
    # shape (96 x 64 for a 4:3 clip at --size 96) 64 px on the long side (64 x 43), under a
    # header line and a label line per row of cells.
    cols = min(10, 2400 // (3 * 64))
    rows = -(-10 // cols)
    assert sheet.shape == (22 + rows * (22 + 43), cols * 3 * 64, 3)
    assert _red_text(sheet[: 40 + 65 * rows])  # the frame without a person is labelled red
    by_path = tmp_path / "by-path.png"
    assert cli("inspect", video, "-w", ws, "-o", by_path, "--tile", "64").code == 0
    np.testing.assert_array_equal(cv2.imread(str(by_path)), cv2.imread(str(out)))


def test_inspect_one_stage(cli, prepared, tmp_path):
    _, ws = prepared
    out = tmp_path / "kp.png"
    res = cli("inspect", "dancer", "-w", ws, "-o", out, "--stage", "keypoints", "--tile", "64")
    assert res.code == 0, res.err
    sheet = cv2.imread(str(out))
    assert sheet.shape[1] == 10 * 64  # one panel per cell: all 10 cells in one row
    res = cli("inspect", "dancer", "-w", ws, "--stage", "nosuch")
    assert res.code == 2 and "Nothing to show for stage 'nosuch'" in res.err
    assert res.err.count("\n") == 1


def test_inspect_unknown_target_is_a_one_line_error(cli, prepared):
    _, ws = prepared
    res = cli("inspect", "nobody", "-w", ws)
    assert res.code == 2
    assert "No video file, subject or video id named 'nobody'" in res.err
    assert "subjects: dancer" in res.err and res.err.count("\n") == 1


def test_pick_frames_spreads_and_includes_problems():
    assert pick_frames(100, 5) == [0, 25, 50, 74, 99]
    flagged = np.zeros(100, bool)
    flagged[[41, 42, 43]] = True
    picked = pick_frames(100, 6, flagged)
    assert len(picked) == 6 and {41, 43} <= set(picked)
    assert pick_frames(3, 12) == [0, 1, 2]


def test_prepare_refuses_bad_iuv_and_keypoint_specs(cli, clip):
    video = clip("v.mp4", frames=4)
    res = cli("prepare", video, "--iuv", "apply_net:/tmp/x.pkl")
    assert res.code == 2 and "Cannot read --iuv 'apply_net:/tmp/x.pkl'" in res.err
    res = cli("prepare", video, "--keypoints", "alphapose:/tmp")
    assert res.code == 2 and "Cannot read --keypoints 'alphapose:/tmp'" in res.err


def test_prepare_strict_turns_quality_warnings_into_an_error(cli, clip, tmp_path):
    video = clip("gappy.mp4", frames=10, width=160, height=120)
    present = np.ones(10, bool)
    present[2:6] = False
    write_openpose_frames(tmp_path / "j", _figure(10, 160, 120), people_present=present)
    args = ["prepare", video, "--keypoints", f"openpose:{tmp_path / 'j'}", "--until", "keypoints"]
    res = cli(*args, "--strict")
    assert res.code == 5
    assert "person found in only 6 of 10 frames (60%); not found in frames 2-5" in res.err
    assert res.err.count("\n") == 1
    assert cli(*args).code == 0  # without --strict it is a warning
