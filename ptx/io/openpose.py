"""OpenPose JSON: read and write the per-frame files OpenPose writes.

One file per frame, named ``<name>_<frame:012d>_keypoints.json``, holding
``{"version": 1.3, "people": [{"pose_keypoints_2d": [x0, y0, c0, x1, ...], ...}]}``.
A joint OpenPose did not find is written as ``0, 0, 0``. Both BODY_25 (25 joints) and
COCO-18 (18 joints) files are read; COCO-18 is mapped into BODY_25 order (MidHip is derived
as the midpoint of the hips, the six foot points are missing). Hands
(``hand_left_keypoints_2d`` / ``hand_right_keypoints_2d``, 21 points each) are read on
request and appended after the body (K = 67). Coordinates are taken as they are: ptx's
pixel convention (picture spanning ``[0, W]``) differs from OpenPose's (pixel centres at
integers) by half a pixel, below OpenPose's precision.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
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


def _values(joints: np.ndarray) -> list[float]:
    joints = joints.copy()
    joints[joints[:, 2] <= 0] = 0.0
    return [round(float(v), 4) for v in joints.reshape(-1)]


def write_openpose_frames(
    folder: Path | str,
    keypoints: np.ndarray,
    name: str = "video",
    people_present: np.ndarray | None = None,
    pose_model: str = "BODY_25",
    numbers: np.ndarray | None = None,
) -> list[Path]:
    """Write ``keypoints`` float (T, 25, 3) (x, y, confidence) as one OpenPose file per
    frame; (T, 67, 3) also writes both hands (left, then right). ``pose_model`` "COCO"
    writes the 18 COCO joints instead of BODY_25. Frames where ``people_present`` is False
    get an empty people list. ``numbers`` int (T,) are the frame numbers in the file names
    (default 0, 1, 2, ...)."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[1:] not in ((25, 3), (67, 3)):
        raise ValueError(f"keypoints must be (T, 25, 3) or (T, 67, 3), got {kp.shape}")
    if pose_model not in ("BODY_25", "COCO"):
        raise ValueError(f"pose_model must be BODY_25 or COCO, got {pose_model!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, joints in enumerate(kp):
        body = joints[:25] if pose_model == "BODY_25" else joints[list(COCO_18_TO_BODY_25)]
        has_hands = kp.shape[1] == 67
        present = True if people_present is None else bool(people_present[t])
        people = []
        if present:
            people.append(
                {
                    "person_id": [-1],
                    "pose_keypoints_2d": _values(body),
                    "face_keypoints_2d": [],
                    "hand_left_keypoints_2d": _values(joints[25:46]) if has_hands else [],
                    "hand_right_keypoints_2d": _values(joints[46:67]) if has_hands else [],
                    "pose_keypoints_3d": [],
                    "face_keypoints_3d": [],
                    "hand_left_keypoints_3d": [],
                    "hand_right_keypoints_3d": [],
                }
            )
        path = frame_file(folder, name, t if numbers is None else int(numbers[t]))
        atomic_write_json(path, {"version": 1.3, "people": people})
        paths.append(path)
    return paths


def pose_to_body25(values: list[float], where: Path | str) -> np.ndarray:
    """One person's ``pose_keypoints_2d`` (BODY_25: 75 values, COCO-18: 54) as float32
    (25, 3) in BODY_25 order; ``where`` names the file in errors."""
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
            f"{where} has {arr.size // 3} pose joints; ptx reads BODY_25 (25) or COCO-18 (18).",
            "Export OpenPose with --model_pose BODY_25 or COCO.",
        )
    out[out[:, 2] <= 0] = 0.0
    return out


@dataclass
class OpenPoseFrames:
    """The contents of an OpenPose ``--write_json`` folder."""

    numbers: np.ndarray
    """int (N,): the frame number in each file's name, ascending."""
    keypoints: np.ndarray
    """float32 (N, K, 3): the followed person per file, BODY_25 order (K = 25), plus both
    hands (K = 67: left hand, then right) when read with ``hands``; zeros where missing."""
    people: np.ndarray
    """int (N,): how many people each file lists."""


def _hand(values: list[float] | None) -> np.ndarray:
    arr = np.asarray(values or [], dtype=np.float32)
    if arr.size != 63:
        return np.zeros((21, 3), np.float32)
    out = arr.reshape(21, 3).copy()
    out[out[:, 2] <= 0] = 0.0
    return out


def follow_person(candidates: list[np.ndarray], previous: np.ndarray | None) -> np.ndarray:
    """Of several people's keypoints (K, 3), the one nearest the person followed before
    (median distance of their common body joints), else the most confident."""
    if previous is not None:
        best, best_d = None, np.inf
        for joints in candidates:
            body, before = joints[:25], previous[:25]
            common = (body[:, 2] > 0) & (before[:, 2] > 0)
            if common.any():
                d = float(np.median(np.hypot(*(body[common, :2] - before[common, :2]).T)))
                if d < best_d:
                    best, best_d = joints, d
        if best is not None:
            return best
    return max(candidates, key=lambda j: float(j[:25, 2].sum()))


def follow_people(
    frames: Iterable[tuple[list[dict], Path | str]], count: int, hands: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` frames of OpenPose people (each frame: its people's dicts and the file
    named in errors) -> (float32 (count, K, 3): the followed person (:func:`follow_person`)
    in BODY_25 order, plus both hands (K = 67: left, then right) with ``hands``; int32
    (count,): how many people each frame lists)."""
    kp = np.zeros((count, 67 if hands else 25, 3), np.float32)
    people = np.zeros(count, np.int32)
    previous = None
    for t, (persons, where) in enumerate(frames):
        people[t] = len(persons)
        candidates = []
        for person in persons:
            joints = pose_to_body25(person.get("pose_keypoints_2d", []), where)
            if hands:
                left = _hand(person.get("hand_left_keypoints_2d"))
                right = _hand(person.get("hand_right_keypoints_2d"))
                joints = np.concatenate([joints, left, right])
            candidates.append(joints)
        if candidates:
            kp[t] = previous = follow_person(candidates, previous)
    return kp, people


def _load(path: Path) -> list[dict]:
    try:
        persons = json.loads(path.read_text()).get("people", [])
    except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        raise InputError(f"{path} is not valid OpenPose JSON.") from None
    if not isinstance(persons, list):
        raise InputError(f"{path} is not valid OpenPose JSON ('people' is not a list).")
    return persons


def read_openpose_numbered(folder: Path | str, hands: bool = False) -> OpenPoseFrames:
    """Read a folder of OpenPose JSON files, keyed by the frame number in their names.

    With several people in a file, the one nearest (median joint distance) to the person
    followed in the previous file is kept; the first time, the most confident one."""
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
    kp, people = follow_people(((_load(path), path) for _, path in files), len(files), hands)
    numbers = np.array([n for n, _ in files], np.int64)
    return OpenPoseFrames(numbers, kp, people)


def read_openpose_frames(folder: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Read a folder of OpenPose JSON files (sorted by the frame number in their names).

    Returns ``keypoints`` float32 (T, 25, 3) in BODY_25 order (zeros where missing) and
    ``people`` int (T,): how many people each frame had. With several people, the one
    followed is chosen as in :func:`read_openpose_numbered`.
    """
    frames = read_openpose_numbered(folder)
    return frames.keypoints, frames.people
