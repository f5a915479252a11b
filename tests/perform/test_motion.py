"""Motion from pose files: which file is which, trimming and resampling, and body motion
(ptx's own camera-space export, or AMASS's z-up world) placed on the target."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from ptx.body.rotation import axis_angle_to_matrix, matrix_to_axis_angle, rotation_np
from ptx.errors import InputError
from ptx.io.comfyui import write_comfyui
from ptx.io.openpose import write_openpose_frames
from ptx.io.smpl_motion import AMASS, CAMERA, Motion
from ptx.perform.motion import (
    WORLD_TO_CAMERA,
    MotionConditions,
    amass_to_camera,
    frame_indices,
    pose_conditions,
    pose_spec,
)


def test_pose_files_are_told_apart(tmp_path, clip):
    kp = np.ones((3, 25, 3), np.float32)
    write_openpose_frames(tmp_path / "op", kp)
    write_comfyui(tmp_path / "c.json", kp, 64, 64)
    (tmp_path / "coco.json").write_text(json.dumps([{"image_id": 1, "keypoints": [1] * 51}]))
    np.save(tmp_path / "k.npy", np.zeros((3, 17, 3)))
    np.savez(tmp_path / "m.npz", poses=np.zeros((3, 72)))
    np.savez(tmp_path / "k.npz", keypoints=np.zeros((3, 17, 3)))
    (tmp_path / "frames").mkdir()
    assert pose_spec(tmp_path / "op") == ("openpose", tmp_path / "op")
    assert pose_spec(tmp_path / "c.json")[0] == "comfyui"
    assert pose_spec(tmp_path / "coco.json")[0] == "coco17"
    assert pose_spec(tmp_path / "k.npy")[0] == "coco17"
    assert pose_spec(tmp_path / "m.npz")[0] == "smpl"
    assert pose_spec(tmp_path / "k.npz")[0] == "coco17"
    assert pose_spec(f"amass:{tmp_path / 'm.npz'}")[0] == "smpl"
    assert pose_spec(f"dwpose:{tmp_path / 'c.json'}")[0] == "comfyui"
    assert pose_spec(clip("v.mp4", frames=2)) is None  # a video
    assert pose_spec(tmp_path / "frames") is None  # a folder of frames
    with pytest.raises(InputError, match="No such pose file"):
        pose_spec(tmp_path / "gone.json")
    (tmp_path / "other.json").write_text('{"a": 1}')
    with pytest.raises(InputError, match="neither ComfyUI POSE_KEYPOINT nor COCO-17"):
        pose_spec(tmp_path / "other.json")


def test_frame_indices_trim_and_resample():
    np.testing.assert_array_equal(frame_indices(10, None, 25.0), np.arange(10))
    idx = frame_indices(240, 120.0, 25.0)  # 2 s of 120 fps motion at 25 fps
    assert len(idx) == 50 and idx[0] == 0 and idx[1] == 5 and idx[-1] == round(49 / 25 * 120)
    idx = frame_indices(100, 50.0, 25.0, start=0.5, end=1.0)
    np.testing.assert_array_equal(idx, np.arange(25, 50, 2))
    assert len(frame_indices(100, None, 25.0, max_frames=7)) == 7
    with pytest.raises(InputError, match="keeps 1 frame"):
        frame_indices(100, None, 25.0, start=3.96)


def _to_amass(pose: np.ndarray, transl: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space motion into AMASS's z-up world, turned by ``yaw`` about its up axis."""
    back = rotation_np("z", yaw) @ WORLD_TO_CAMERA.T
    root = axis_angle_to_matrix(torch.as_tensor(pose[:, 0], dtype=torch.float64)).numpy()
    out = pose.copy()
    out[:, 0] = matrix_to_axis_angle(back @ root)
    return out, (back @ transl.T).T + np.array([3.0, -2.0, 0.9])


def test_amass_motion_is_upright_facing_the_camera(prepared_synth):
    s = prepared_synth.store
    pose, transl = s.read("body/pose"), s.read("body/transl")
    a_pose, a_trans = _to_amass(pose, transl, yaw=2.0)
    c_pose, c_trans = amass_to_camera(a_pose, a_trans)
    m = axis_angle_to_matrix(torch.as_tensor(c_pose[0, 0], dtype=torch.float64)).numpy()
    forward, up = m[:, 2], m[:, 1]
    assert math.atan2(forward[0], forward[2]) == pytest.approx(math.pi, abs=1e-6) or (
        math.atan2(forward[0], forward[2]) == pytest.approx(-math.pi, abs=1e-6)
    )
    assert up[1] < -0.8  # the body's up is the picture's up (camera y points down)
    np.testing.assert_allclose(c_trans[0], 0.0, atol=1e-6)
    # the motion itself is kept: root moves like the source's, after the same turn
    turned = np.linalg.norm(np.diff(c_trans, axis=0), axis=1)
    np.testing.assert_allclose(turned, np.linalg.norm(np.diff(transl, axis=0), axis=1), atol=1e-5)


@pytest.mark.slow
def test_body_motion_drives_the_target(prepared_synth):
    s = prepared_synth.store
    pose, transl, cam = s.read("body/pose"), s.read("body/transl"), s.read("body/camera")
    own = MotionConditions(Motion(pose, transl, 25.0, CAMERA, camera=cam, camera_size=(64, 64)), s)
    truth = s.read("keypoints")
    ok = truth[..., 2] > 0.3
    err = np.linalg.norm(own.keypoints[..., :2] - truth[..., :2], axis=-1)[ok].mean()
    assert err < 0.04 * 64, f"self motion moved the keypoints by {err:.2f} px"
    a_pose, a_trans = _to_amass(pose, transl, yaw=2.5)
    amass = MotionConditions(Motion(a_pose, a_trans, 25.0, AMASS), s)
    kp = amass.keypoints
    assert (kp[:, 0, 1] < kp[:, 11, 1]).all() and (kp[:, 0, 1] < kp[:, 14, 1]).all()  # upright
    assert kp[0, 2, 0] < kp[0, 5, 0]  # facing us: the right shoulder on the picture's left
    inside = (kp[..., :2] > -2) & (kp[..., :2] < 66)
    assert inside.all()
    iuv = amass.chunk(0, 4, ("iuv",))["iuv"]
    assert ((iuv[..., 0] > 0).mean(axis=(1, 2)) > 0.02).all()


@pytest.mark.slow
def test_pose_conditions_from_a_comfyui_file(prepared_synth, tmp_path):
    s = prepared_synth.store
    kp = s.read("keypoints").copy()
    kp[..., :2] *= 4.0  # as if found in a 256 px picture: normalised onto the target
    write_comfyui(tmp_path / "p.json", kp, 256, 256)
    conds, fps, notes = pose_conditions(tmp_path / "p.json", s, fps=None, max_frames=10)
    assert len(conds) == 10 and fps == 25.0 and notes == []
    assert (conds.keypoints[..., :2][conds.keypoints[..., 2] > 0] < 70).all()
