"""COCO-17 keypoints (what most pose estimators write: MMPose, ViTPose, Detectron2, YOLO
pose) read into BODY_25 order.

Accepted files:

- JSON in COCO's results layout: a list of ``{"image_id", "keypoints": [x, y, v] * 17,
  "score"}`` (or a dict with such a list under ``"annotations"``), one or more entries per
  frame; frames are the image ids in ascending order, and of several people in a frame the
  one nearest the person followed before is kept (the highest ``score`` first).
- JSON holding a plain list of frames, each 51 numbers or 17 ``[x, y, c]`` rows.
- ``.npy`` / ``.npz`` with an array (T, 17, 2 or 3) (in an .npz: ``keypoints``, else its
  first array).

COCO has no neck and no mid-hip: they are the midpoints of the shoulders and of the hips
(when both are present); the six foot points stay missing. Confidence above 1 (COCO's
visibility flag 2) counts as 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ptx.errors import InputError
from ptx.io.openpose import follow_person

COCO_17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
"""COCO's 17 keypoints, in order."""

COCO_17_TO_BODY_25 = (0, 16, 15, 18, 17, 5, 2, 6, 3, 7, 4, 12, 9, 13, 10, 14, 11)
"""BODY_25 index of each COCO-17 keypoint."""


def coco17_to_body25(kp: np.ndarray) -> np.ndarray:
    """float (T, 17, 2 or 3) COCO-17 keypoints -> float32 (T, 25, 3) in BODY_25 order."""
    kp = np.asarray(kp, np.float32)
    if kp.ndim != 3 or kp.shape[1] != 17 or kp.shape[2] not in (2, 3):
        raise InputError(f"COCO-17 keypoints must be (T, 17, 2 or 3), not {kp.shape}.")
    if kp.shape[2] == 2:
        kp = np.concatenate([kp, np.ones(kp.shape[:2] + (1,), np.float32)], -1)
    out = np.zeros((len(kp), 25, 3), np.float32)
    out[:, list(COCO_17_TO_BODY_25)] = kp
    out[..., 2] = np.clip(out[..., 2], 0.0, 1.0)
    for mid, (a, b) in ((1, (2, 5)), (8, (9, 12))):
        both = (out[:, a, 2] > 0) & (out[:, b, 2] > 0)
        out[both, mid, :2] = (out[both, a, :2] + out[both, b, :2]) / 2
        out[both, mid, 2] = np.minimum(out[both, a, 2], out[both, b, 2])
    out[out[..., 2] <= 0] = 0.0
    return out


def _person(values: object, where: Path) -> np.ndarray:
    arr = np.asarray(values, np.float32).reshape(-1)
    if arr.size != 51:
        raise InputError(f"{where}: a person has {arr.size} values; COCO-17 has 51 (17 x 3).")
    return arr.reshape(17, 3)


def _from_results(entries: list[dict], where: Path) -> np.ndarray:
    frames: dict[object, list[tuple[float, np.ndarray]]] = {}
    for e in entries:
        if "keypoints" not in e:
            raise InputError(f"{where}: an entry has no 'keypoints'.")
        key = e.get("image_id", e.get("frame", len(frames)))
        frames.setdefault(key, []).append(
            (float(e.get("score", 0.0)), _person(e["keypoints"], where))
        )
    try:
        order = sorted(frames)
    except TypeError:  # mixed id types: keep the file's order
        order = list(frames)
    out = np.zeros((len(order), 17, 3), np.float32)
    previous = None
    for t, key in enumerate(order):
        people = [p for _, p in sorted(frames[key], key=lambda sp: -sp[0])]
        out[t] = previous = follow_person(people, previous)
    return out


def read_coco17(path: Path | str) -> np.ndarray:
    """The file's keypoints as float32 (T, 25, 3) in BODY_25 order (module docstring)."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return coco17_to_body25(np.load(path, allow_pickle=False))
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return coco17_to_body25(z["keypoints" if "keypoints" in z else z.files[0]])
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read COCO-17 keypoints from {path} ({exc}).") from None
    if isinstance(data, dict):
        data = data.get("annotations", data.get("keypoints"))
    if not isinstance(data, list) or not data:
        raise InputError(f"{path} holds no COCO-17 keypoints.", "See `ptx render --help`.")
    if isinstance(data[0], dict):
        return coco17_to_body25(_from_results(data, path))
    return coco17_to_body25(np.stack([_person(f, path) for f in data]))


def is_coco17(data: object) -> bool:
    """Whether parsed JSON looks like COCO-17 keypoints (results list or annotations)."""
    if isinstance(data, dict):
        data = data.get("annotations")
    if not isinstance(data, list) or not data:
        return False
    first = data[0]
    if isinstance(first, dict):
        return np.asarray(first.get("keypoints", []), dtype=object).size == 51
    return np.asarray(first, dtype=object).size == 51
