"""The synthetic subject: deterministic, self-consistent, written where documented."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from ptx.body.synth import SynthConfig, SynthSubject, gt_dir_for, load_ground_truth, synth_subject
from ptx.body.synth import write_subject as write
from ptx.errors import InputError
from ptx.io.openpose import read_openpose_frames

SMALL = SynthConfig(motion="wave", frames=6, size=64, seed=5)


def test_the_same_seed_gives_the_same_subject_and_another_seed_another():
    a, b = synth_subject(SMALL), synth_subject(SMALL)
    for name in SynthSubject.ARRAYS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    c = synth_subject(SynthConfig(motion="wave", frames=6, size=64, seed=6))
    assert not np.array_equal(a.frames, c.frames)
    assert not np.array_equal(a.betas, c.betas)


def test_ground_truth_agrees_with_the_pictures(subject):
    person = subject.mask > 0
    assert np.array_equal(person, subject.iuv[..., 0] > 0)
    # the figure differs from the clean background exactly where the mask is
    diff = np.abs(subject.frames.astype(int) - subject.background.astype(int)).sum(-1)
    inner = np.stack([cv2.erode(m.astype(np.uint8), np.ones((3, 3))) for m in person]) > 0
    outer = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3))) for m in person]) > 0
    assert (diff[~outer] == 0).all()
    assert (diff[inner] > 0).mean() > 0.97
    # joints inside the body land on it: shoulders, elbows, hips, knees, ankles
    kp = subject.keypoints
    for j in (2, 3, 5, 6, 9, 10, 11, 12, 13, 14):
        x = np.clip(kp[:, j, 0].astype(int), 0, subject.config.size - 1)
        y = np.clip(kp[:, j, 1].astype(int), 0, subject.config.size - 1)
        assert outer[np.arange(len(kp)), y, x].mean() > 0.95, j
    assert (kp[..., 2] == 1).all()


def test_every_motion_moves_and_keeps_joints_anatomical():
    for motion in ("dance", "walk", "wave"):
        s = synth_subject(SynthConfig(motion=motion, frames=12, size=64, seed=1, fps=10))
        step = np.abs(np.diff(s.keypoints[..., :2], axis=0))
        assert step.mean() > 0.1 and step.max() > 1.0, motion
        assert (s.pose[:, [4, 5], 0] >= -1e-4).all()  # knees never bend backwards
        assert (s.pose[:, 18, 1] <= 1e-4).all() and (s.pose[:, 19, 1] >= -1e-4).all()


def test_writing_a_subject_leaves_a_video_and_its_ground_truth(tmp_path):
    sub = synth_subject(SMALL)
    video = tmp_path / "s.mp4"
    gt = write(sub, video)
    assert gt == gt_dir_for(video) == tmp_path / "s_gt"
    with av.open(str(video)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 6 and frames[0].shape == (64, 64, 3)
    assert np.abs(np.stack(frames).astype(int) - sub.frames).mean() < 6  # H.264, lossy
    kp, people = read_openpose_frames(gt / "openpose")
    np.testing.assert_allclose(kp, sub.keypoints, atol=1e-3)
    assert (people == 1).all()
    loaded = load_ground_truth(video)
    assert np.array_equal(loaded["iuv"], sub.iuv) and loaded["meta"]["seed"] == 5
    png = cv2.imread(str(gt / "background.png"))[..., ::-1]
    assert np.array_equal(png, sub.background)


def test_bad_settings_are_refused_with_a_reason(tmp_path):
    with pytest.raises(InputError, match="must be even"):
        synth_subject(SynthConfig(size=63))
    with pytest.raises(InputError, match="Unknown motion 'jump'"):
        synth_subject(SynthConfig(motion="jump"))
    with pytest.raises(InputError, match=r"should end in \.mp4"):
        write(synth_subject(SMALL), tmp_path / "s.avi")
