"""COCO-17 keypoints (results JSON, arrays) into BODY_25 order."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io.coco import COCO_17, read_coco17


def _person(shift: float = 0.0, score: float = 0.9) -> np.ndarray:
    kp = np.zeros((17, 3), np.float32)
    for i in range(17):
        kp[i] = [10.0 * i + shift, 5.0 * i, score]
    return kp


def test_results_json_picks_a_person_per_frame_and_derives_neck_and_midhip(tmp_path):
    entries = []
    for frame in (3, 1, 2):  # out of order on purpose
        entries.append({"image_id": frame, "category_id": 1, "score": 0.9,
                        "keypoints": _person(frame).reshape(-1).tolist()})  # fmt: skip
    entries.append({"image_id": 2, "score": 0.2, "keypoints": _person(500).reshape(-1).tolist()})
    (tmp_path / "r.json").write_text(json.dumps(entries))
    kp = read_coco17(tmp_path / "r.json")
    assert kp.shape == (3, 25, 3)
    np.testing.assert_allclose(kp[:, 0, 0], [1, 2, 3])  # nose x: frames in id order, person 1
    p = _person(1)
    name = {n: i for i, n in enumerate(COCO_17)}
    np.testing.assert_allclose(kp[0, 2, :2], p[name["right_shoulder"], :2])
    np.testing.assert_allclose(kp[0, 7, :2], p[name["left_wrist"], :2])
    np.testing.assert_allclose(kp[0, 11, :2], p[name["right_ankle"], :2])
    neck = (p[name["left_shoulder"], :2] + p[name["right_shoulder"], :2]) / 2
    np.testing.assert_allclose(kp[0, 1, :2], neck)
    np.testing.assert_allclose(kp[0, 8, :2], (p[11, :2] + p[12, :2]) / 2)
    assert (kp[:, 19:] == 0).all()


def test_arrays_and_visibility_flags(tmp_path):
    arr = np.stack([_person(0, 2.0), _person(0, 2.0)])  # COCO ground truth: v = 2
    arr[1, 0] = 0.0  # nose not labelled
    np.save(tmp_path / "k.npy", arr)
    kp = read_coco17(tmp_path / "k.npy")
    assert kp[0, 0, 2] == 1.0 and (kp[1, 0] == 0).all()
    np.savez(tmp_path / "k.npz", keypoints=arr[..., :2])  # (T, 17, 2): all present
    assert (read_coco17(tmp_path / "k.npz")[:, 2, 2] == 1).all()
    with pytest.raises(InputError, match=r"\(T, 17, 2 or 3\)"):
        np.save(tmp_path / "bad.npy", np.zeros((3, 18, 3)))
        read_coco17(tmp_path / "bad.npy")
