"""ComfyUI's ``POSE_KEYPOINT``: a whole sequence's poses in one JSON file.

The file is a list with one entry per frame, each in OpenPose's per-frame layout plus the
picture size::

    [{"people": [{"pose_keypoints_2d": [x, y, c, ...],        # COCO-18 order, 54 values
                  "face_keypoints_2d": null,
                  "hand_left_keypoints_2d": [...] | null,       # 21 points when present
                  "hand_right_keypoints_2d": [...] | null}],
      "canvas_height": H, "canvas_width": W}, ...]

This is what ComfyUI's DWPose and OpenPose preprocessors output (comfyui_controlnet_aux)
and what its pose nodes read. Their reader keeps a joint only when its confidence is at
least 1.0, so ptx writes 1.0 for every joint above ``min_confidence`` and ``0, 0, 0`` for the
others. Coordinates are pixels of the canvas; files whose coordinates all lie in [0, 1]
(older writers normalise them) are read as fractions of the canvas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.cache.atomic import atomic_write_bytes
from ptx.errors import InputError
from ptx.io.openpose import COCO_18_TO_BODY_25, follow_people


@dataclass
class PoseSequence:
    """Keypoints of one person through a sequence, with the picture they are drawn in."""

    keypoints: np.ndarray
    """float32 (T, K, 3), BODY_25 order (K = 25), plus both hands (K = 67: left, right)
    when the file has them; zeros where missing."""
    width: int
    height: int
    people: np.ndarray
    """int (T,): how many people each frame lists."""


def _values(joints: np.ndarray, min_confidence: float) -> list[float]:
    out = np.zeros((len(joints), 3), np.float64)
    ok = joints[:, 2] > min_confidence
    out[ok, :2] = joints[ok, :2]
    out[ok, 2] = 1.0
    return [round(float(v), 3) for v in out.reshape(-1)]


def write_comfyui(
    path: Path | str,
    keypoints: np.ndarray,
    width: int,
    height: int,
    min_confidence: float = 0.05,
) -> Path:
    """Write ``keypoints`` float (T, 25 or 67, 3) (BODY_25 order, pixels of a ``width`` x
    ``height`` picture) as a POSE_KEYPOINT file; frames without any joint list nobody."""
    kp = np.asarray(keypoints, np.float64)
    if kp.ndim != 3 or kp.shape[1:] not in ((25, 3), (67, 3)):
        raise ValueError(f"keypoints must be (T, 25, 3) or (T, 67, 3), got {kp.shape}")
    frames = []
    for joints in kp:
        people = []
        if (joints[:25, 2] > min_confidence).any():
            hands = kp.shape[1] == 67
            people.append(
                {
                    "pose_keypoints_2d": _values(joints[list(COCO_18_TO_BODY_25)], min_confidence),
                    "face_keypoints_2d": None,
                    "hand_left_keypoints_2d": _values(joints[25:46], min_confidence)
                    if hands
                    else None,
                    "hand_right_keypoints_2d": _values(joints[46:67], min_confidence)
                    if hands
                    else None,
                }
            )
        frames.append({"people": people, "canvas_height": int(height), "canvas_width": int(width)})
    path = Path(path)
    atomic_write_bytes(path, json.dumps(frames).encode())
    return path


def is_comfyui(data: object) -> bool:
    """Whether parsed JSON looks like a POSE_KEYPOINT list (or one frame of it)."""
    first = data[0] if isinstance(data, list) and data else data
    return isinstance(first, dict) and "people" in first and "canvas_width" in first


def read_comfyui(path: Path | str, hands: bool = False) -> PoseSequence:
    """Read a POSE_KEYPOINT file (see the module docstring); with several people in a frame
    the one nearest the person followed before is kept."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Cannot read {path} as JSON ({exc}).") from None
    if isinstance(data, dict):
        data = [data]
    if not is_comfyui(data) or not all(isinstance(f, dict) for f in data):
        raise InputError(
            f"{path} is not a ComfyUI POSE_KEYPOINT file.",
            "Expected a list of {people, canvas_width, canvas_height} frames.",
        )
    width, height = int(data[0]["canvas_width"]), int(data[0]["canvas_height"])
    frames = (  # a person drawn without body joints counts, as an empty COCO-18 pose
        ([{**p, "pose_keypoints_2d": p.get("pose_keypoints_2d") or [0.0] * 54}
          for p in frame.get("people") or []], path)
        for frame in data
    )  # fmt: skip
    kp, people = follow_people(frames, len(data), hands)
    present = kp[..., 2] > 0
    if present.any() and kp[..., :2][present].max() <= 1.0 and max(width, height) > 1:
        kp[..., 0] *= width
        kp[..., 1] *= height
    kp[~present] = 0.0
    return PoseSequence(kp, width, height, people)
