"""OpenPose JSON: BODY_25 and COCO-18 round trips, missing people and joints, hands."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io.openpose import (
    COCO_18_TO_BODY_25,
    read_openpose_frames,
    read_openpose_numbered,
    write_openpose_frames,
)


def _keypoints(n: int, k: int = 25, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.concatenate([rng.uniform(0, 640, (n, k, 2)), rng.uniform(0.05, 1, (n, k, 1))], -1)
    return kp.astype(np.float32)


def test_body25_round_trip_with_missing_people_and_joints(tmp_path):
    kp = _keypoints(6)
    kp[1, [4, 11]] = 0.0  # two joints not found
    present = np.array([1, 1, 0, 1, 0, 1], bool)
    paths = write_openpose_frames(tmp_path, kp, people_present=present)
    assert paths[2].name == "video_000000000002_keypoints.json"
    assert json.loads(paths[2].read_text())["people"] == []
    got, people = read_openpose_frames(tmp_path)
    np.testing.assert_array_equal(people, present.astype(int))
    np.testing.assert_allclose(got[present], kp[present], atol=1e-4)
    assert (got[~present] == 0).all()
    assert (got[1, [4, 11]] == 0).all()


def test_coco18_maps_into_body25_with_a_derived_midhip(tmp_path):
    kp = _keypoints(3)
    kp[2, 12, 2] = 0.0  # LHip missing in frame 2: no MidHip there
    write_openpose_frames(tmp_path, kp, pose_model="COCO")
    doc = json.loads(next(tmp_path.glob("*_000000000000_*")).read_text())
    assert len(doc["people"][0]["pose_keypoints_2d"]) == 54
    got, _ = read_openpose_frames(tmp_path)
    coco = list(COCO_18_TO_BODY_25)
    want = kp[:, coco].copy()
    want[want[..., 2] <= 0] = 0
    np.testing.assert_allclose(got[:, coco], want, atol=1e-4)
    np.testing.assert_allclose(got[:2, 8, :2], (kp[:2, 9, :2] + kp[:2, 12, :2]) / 2, atol=1e-4)
    assert (got[2, 8] == 0).all()
    assert (got[:, 19:] == 0).all()  # COCO has no feet


def test_hands_round_trip(tmp_path):
    kp = _keypoints(2, k=67)
    write_openpose_frames(tmp_path, kp)
    frames = read_openpose_numbered(tmp_path, hands=True)
    np.testing.assert_allclose(frames.keypoints, kp, atol=1e-4)
    body_only, _ = read_openpose_frames(tmp_path)
    assert body_only.shape == (2, 25, 3)


def test_several_people_follow_the_same_one(tmp_path):
    """With two people the reader keeps following the one it started with, even when the
    other becomes more confident."""
    a = np.repeat(_keypoints(1, seed=1), 4, axis=0)
    b = np.repeat(_keypoints(1, seed=2), 4, axis=0)
    a[..., :2] += np.arange(4)[:, None, None] * 3.0  # both move a little
    b[..., :2] -= np.arange(4)[:, None, None] * 3.0
    a[..., 2], b[..., 2] = 0.9, 0.5
    b[2:, :, 2] = 1.0  # b becomes the more confident from frame 2
    for t in range(4):
        people = [
            {"pose_keypoints_2d": [float(v) for v in a[t].reshape(-1)]},
            {"pose_keypoints_2d": [float(v) for v in b[t].reshape(-1)]},
        ]
        (tmp_path / f"clip_{t:012d}_keypoints.json").write_text(json.dumps({"people": people}))
    frames = read_openpose_numbered(tmp_path)
    np.testing.assert_array_equal(frames.people, [2, 2, 2, 2])
    np.testing.assert_allclose(frames.keypoints[..., :2], a[..., :2], atol=1e-3)


def test_frame_numbers_are_kept_when_files_are_missing(tmp_path):
    kp = _keypoints(5)
    write_openpose_frames(tmp_path, kp)
    next(tmp_path.glob("*_000000000002_*")).unlink()
    frames = read_openpose_numbered(tmp_path)
    np.testing.assert_array_equal(frames.numbers, [0, 1, 3, 4])
    np.testing.assert_allclose(frames.keypoints[2], kp[3], atol=1e-4)


def test_bad_files_are_one_line_input_errors(tmp_path):
    with pytest.raises(InputError, match="No OpenPose files"):
        read_openpose_frames(tmp_path)
    (tmp_path / "v_000000000000_keypoints.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid OpenPose JSON"):
        read_openpose_frames(tmp_path)
    (tmp_path / "v_000000000000_keypoints.json").write_text(
        json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 30}]})
    )
    with pytest.raises(InputError, match="10 pose joints; ptx reads BODY_25"):
        read_openpose_frames(tmp_path)
