"""SMPL motion .npz: what ptx writes reads back; AMASS's layout reads too."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io.smpl_motion import AMASS, CAMERA, read_motion, write_motion


def test_written_motion_reads_back_with_the_keys_blender_and_amass_tools_use(tmp_path):
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.3, (7, 24, 3)).astype(np.float32)
    trans = rng.normal(0, 1, (7, 3)).astype(np.float32)
    cam = np.tile([[300.0, 128, 128]], (7, 1)).astype(np.float32)
    path = write_motion(tmp_path / "m.npz", pose, trans, np.arange(10.0), 30.0, cam, (256, 256),
                        "open", "a note")  # fmt: skip
    with np.load(path) as z:
        assert z["poses"].shape == (7, 72) and z["trans"].shape == (7, 3)
        assert z["betas"].shape == (10,) and str(z["gender"]) == "neutral"
        assert float(z["mocap_framerate"]) == 30.0 and str(z["coordinates"]) == CAMERA
    m = read_motion(path)
    np.testing.assert_array_equal(m.pose, pose)
    np.testing.assert_array_equal(m.trans, trans)
    np.testing.assert_array_equal(m.camera, cam)
    assert (m.fps, m.coordinates, m.camera_size, m.body_model) == (30.0, CAMERA, (256, 256), "open")


def test_an_amass_smplh_file_written_by_hand(tmp_path):
    """AMASS publishes SMPL-H motion: poses (T, 156), trans, betas (16), gender, dmpls,
    mocap_framerate; the 22 body joints are taken and SMPL's hand joints stay at rest."""
    poses = np.arange(4 * 156, dtype=np.float64).reshape(4, 156) / 1000
    np.savez(tmp_path / "amass.npz", poses=poses, trans=np.ones((4, 3)), betas=np.zeros(16),
             gender=np.array("female"), dmpls=np.zeros((4, 8)),
             mocap_framerate=np.array(120.0))  # fmt: skip
    m = read_motion(tmp_path / "amass.npz")
    assert m.pose.shape == (4, 24, 3) and m.fps == 120.0 and m.coordinates == AMASS
    np.testing.assert_allclose(m.pose[:, :22].reshape(4, 66), poses[:, :66], rtol=1e-6)
    assert (m.pose[:, 22:] == 0).all()


def test_not_a_motion_file(tmp_path):
    np.savez(tmp_path / "x.npz", keypoints=np.zeros((2, 17, 3)))
    with pytest.raises(InputError, match="no 'poses'"):
        read_motion(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", poses=np.zeros((2, 10)))
    with pytest.raises(InputError, match=r"expected \(T, 72\)"):
        read_motion(tmp_path / "y.npz")
