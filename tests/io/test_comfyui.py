"""ComfyUI POSE_KEYPOINT files: the layout ComfyUI's pose nodes write and read, both ways."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io.comfyui import read_comfyui, write_comfyui


def _coco18(points: dict[int, tuple[float, float]]) -> list[float]:
    out = [0.0] * 54
    for j, (x, y) in points.items():
        out[3 * j : 3 * j + 3] = [x, y, 1.0]
    return out


def test_a_file_written_by_hand_in_comfyuis_layout_reads_into_body25(tmp_path):
    """Two frames as comfyui_controlnet_aux's DWPose node writes them (pixels, COCO-18,
    confidence 1.0, hands null), the second with a second, fainter person farther away."""
    a = {0: (50.0, 20.0), 1: (50.0, 40.0), 2: (40.0, 40.0), 5: (60.0, 40.0), 8: (45.0, 80.0),
         11: (55.0, 80.0), 14: (48.0, 18.0), 15: (52.0, 18.0)}  # fmt: skip
    b = {j: (x + 2.0, y) for j, (x, y) in a.items()}
    other = {j: (x + 120.0, y) for j, (x, y) in a.items()}
    frames = [
        {"people": [{"pose_keypoints_2d": _coco18(a), "face_keypoints_2d": None,
                     "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None}],
         "canvas_height": 160, "canvas_width": 200},
        {"people": [{"pose_keypoints_2d": _coco18(other)}, {"pose_keypoints_2d": _coco18(b)}],
         "canvas_height": 160, "canvas_width": 200},
    ]  # fmt: skip
    path = tmp_path / "pose.json"
    path.write_text(json.dumps(frames))
    seq = read_comfyui(path)
    assert (seq.width, seq.height) == (200, 160) and list(seq.people) == [1, 2]
    kp = seq.keypoints
    assert kp.shape == (2, 25, 3)
    np.testing.assert_allclose(kp[0, 0], [50, 20, 1])  # nose
    np.testing.assert_allclose(kp[0, 9, :2], [45, 80])  # COCO RHip (8) -> BODY_25 RHip (9)
    np.testing.assert_allclose(kp[0, 8], [50, 80, 1])  # MidHip derived from both hips
    np.testing.assert_allclose(kp[0, 15, :2], [48, 18])  # COCO REye (14) -> BODY_25 (15)
    assert (kp[0, 19:] == 0).all() and (kp[0, 3] == 0).all()  # no feet, no right elbow
    np.testing.assert_allclose(kp[1, 0, :2], [52, 20])  # kept following the first person


def test_normalised_coordinates_are_read_as_fractions_of_the_canvas(tmp_path):
    frame = {"people": [{"pose_keypoints_2d": _coco18({0: (0.25, 0.5), 1: (0.25, 0.75)})}],
             "canvas_height": 100, "canvas_width": 200}  # fmt: skip
    (tmp_path / "n.json").write_text(json.dumps([frame]))
    kp = read_comfyui(tmp_path / "n.json").keypoints
    np.testing.assert_allclose(kp[0, [0, 1], :2], [[50, 50], [50, 75]])


def test_write_then_read_round_trips_and_marks_joints_as_comfyui_expects(tmp_path):
    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.uniform(0, 300, (5, 67, 2)), rng.uniform(0.2, 1, (5, 67, 1))], -1)
    kp[:, 19:25] = 0.0  # COCO-18 has no feet
    kp[:, 8] = 0.0  # MidHip is derived on reading
    kp[2, 4] = 0.0  # a missing wrist
    kp[3] = 0.0  # nobody
    path = write_comfyui(tmp_path / "p.json", kp, 320, 240)
    data = json.loads(path.read_text())
    assert len(data) == 5 and data[0]["canvas_width"] == 320 and data[0]["canvas_height"] == 240
    assert data[3]["people"] == []
    person = data[2]["people"][0]
    assert len(person["pose_keypoints_2d"]) == 54 and len(person["hand_left_keypoints_2d"]) == 63
    confidences = person["pose_keypoints_2d"][2::3]
    assert set(confidences) == {0.0, 1.0}  # ComfyUI drops joints below 1.0
    assert person["pose_keypoints_2d"][3 * 4 : 3 * 4 + 3] == [0.0, 0.0, 0.0]
    got = read_comfyui(path, hands=True).keypoints
    body = [j for j in range(25) if j not in (8, *range(19, 25))]
    np.testing.assert_allclose(got[[0, 1, 4]][:, body, :2], kp[[0, 1, 4]][:, body, :2], atol=1e-3)
    np.testing.assert_allclose(got[:, 25:, :2][[0, 1]], kp[:, 25:, :2][[0, 1]], atol=1e-3)
    assert (got[3] == 0).all() and (got[2, 4] == 0).all()


def test_not_comfyui(tmp_path):
    (tmp_path / "x.json").write_text('{"annotations": []}')
    with pytest.raises(InputError, match="not a ComfyUI POSE_KEYPOINT"):
        read_comfyui(tmp_path / "x.json")
