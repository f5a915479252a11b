"""OpenPose JSON: read and write the per-frame files OpenPose writes.

One file per frame, named ``<name>_<frame:012d>_keypoints.json``, holding
``{"version": 1.3, "people": [{"pose_keypoints_2d": [x0, y0, c0, x1, ...], ...}]}``.
A joint OpenPose did not find is written as ``0, 0, 0``. Both BODY_25 (25 joints) and
COCO-18 (18 joints) files are read; COCO-18 is mapped into BODY_25 order (MidHip is derived
as the midpoint of the hips, the six foot points are missing).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ptx.cache.atomic import atomic_write_json
from ptx.errors import InputError

BODY_25 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
"""OpenPose BODY_25 joint names, in order."""

COCO_18_TO_BODY_25 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
"""BODY_25 index of each COCO-18 joint (COCO-18 has no MidHip and no feet)."""

_FRAME_RE = re.compile(r"(\d+)_keypoints\.json$")


def frame_file(folder: Path, name: str, frame: int) -> Path:
    return folder / f"{name}_{frame:012d}_keypoints.json"


def write_openpose_frames(
    folder: Path | str,
    keypoints: np.ndarray,
    name: str = "video",
    people_present: np.ndarray | None = None,
) -> list[Path]:
    """Write ``keypoints`` float (T, 25, 3) (x, y, confidence) as one OpenPose BODY_25
    file per frame. Frames where ``people_present`` is False get an empty people list."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] != (25, 3):
        raise ValueError(f"keypoints must be (T, 25, 3), got {kp.shape}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, joints in enumerate(kp):
        joints = joints.copy()
        joints[joints[:, 2] <= 0] = 0.0
        present = True if people_present is None else bool(people_present[t])
        people = []
        if present:
            people.append(
                {
                    "person_id": [-1],
                    "pose_keypoints_2d": [round(float(v), 4) for v in joints.reshape(-1)],
                    "face_keypoints_2d": [],
                    "hand_left_keypoints_2d": [],
                    "hand_right_keypoints_2d": [],
                    "pose_keypoints_3d": [],
                    "face_keypoints_3d": [],
                    "hand_left_keypoints_3d": [],
                    "hand_right_keypoints_3d": [],
                }
            )
        path = frame_file(folder, name, t)
        atomic_write_json(path, {"version": 1.3, "people": people})
        paths.append(path)
    return paths


def _person_to_body25(values: list[float], path: Path) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float32)
    if arr.size == 75:
        out = arr.reshape(25, 3).copy()
    elif arr.size == 54:
        coco = arr.reshape(18, 3)
        out = np.zeros((25, 3), np.float32)
        out[list(COCO_18_TO_BODY_25)] = coco
        rh, lh = coco[8], coco[11]
        if rh[2] > 0 and lh[2] > 0:
            out[8] = [(rh[0] + lh[0]) / 2, (rh[1] + lh[1]) / 2, min(rh[2], lh[2])]
    else:
        raise InputError(
            f"{path} has {arr.size // 3} pose joints; ptx reads BODY_25 (25) or COCO-18 (18).",
            "Export OpenPose with --model_pose BODY_25 or COCO.",
        )
    out[out[:, 2] <= 0] = 0.0
    return out


def read_openpose_frames(folder: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Read a folder of OpenPose JSON files (sorted by the frame number in their names).

    Returns ``keypoints`` float32 (T, 25, 3) in BODY_25 order (zeros where missing) and
    ``people`` int (T,): how many people each frame had. With several people the one with
    the highest summed confidence is kept.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"OpenPose folder {folder} does not exist.", "Check --keypoints.")
    files = []
    for p in folder.glob("*.json"):
        m = _FRAME_RE.search(p.name)
        if m:
            files.append((int(m.group(1)), p))
    if not files:
        raise InputError(
            f"No OpenPose files (*_<frame>_keypoints.json) in {folder}.",
            "Point --keypoints openpose:DIR at OpenPose's --write_json folder.",
        )
    files.sort()
    kp = np.zeros((len(files), 25, 3), np.float32)
    people = np.zeros(len(files), np.int32)
    for t, (_, path) in enumerate(files):
        try:
            data = json.loads(path.read_text())
            persons = data.get("people", [])
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            raise InputError(f"{path} is not valid OpenPose JSON.") from None
        people[t] = len(persons)
        best, best_score = None, -1.0
        for person in persons:
            joints = _person_to_body25(person.get("pose_keypoints_2d", []), path)
            score = float(joints[:, 2].sum())
            if score > best_score:
                best, best_score = joints, score
        if best is not None:
            kp[t] = best
    return kp, people
