"""Motion from files instead of a video: the pose sequences `ptx render --poses` and
`ptx transfer --source` accept.

====================  ==========================================================  ========
spec                  what                                                         read by
====================  ==========================================================  ========
``openpose:DIR``      OpenPose ``--write_json`` folder (BODY_25 or COCO-18)        :mod:`ptx.io.openpose`
``comfyui:FILE``      ComfyUI / DWPose POSE_KEYPOINT single-file JSON              :mod:`ptx.io.comfyui`
``coco17:FILE``       COCO-17 keypoints (results JSON, .npy, .npz)                 :mod:`ptx.io.coco`
``smpl:FILE.npz``     SMPL / AMASS motion (``poses``, ``trans``, rate)             :mod:`ptx.io.smpl_motion`
====================  ==========================================================  ========

The prefix may be left out: a folder of ``*_keypoints.json`` is OpenPose, ``.npz`` with
``poses`` is SMPL motion, ``.npy`` is COCO-17, and a ``.json`` file is told apart by its
content. Keypoints (pixels of any picture) are normalised onto the target's ground line and
range of motion, then a body of the target's shape is fitted to them
(:class:`~ptx.perform.retarget_render.PoseSequenceConditions`). Body motion drives the
target's body directly (:class:`MotionConditions`).

Sequences with a known rate (SMPL motion files) are resampled to the output rate
(``fps``, default their own); others are taken at ``fps`` (default the target's). ``start``
and ``end`` (seconds) and ``max_frames`` trim them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ptx.body.rotation import axis_angle_to_matrix, matrix_to_axis_angle, rotation_np
from ptx.cache.store import VideoStore
from ptx.errors import InputError
from ptx.io.coco import is_coco17, read_coco17
from ptx.io.comfyui import is_comfyui, read_comfyui
from ptx.io.openpose import read_openpose_frames
from ptx.io.smpl_motion import CAMERA, Motion, read_motion
from ptx.io.video import MIN_FRAMES
from ptx.perform.retarget_render import (
    PoseSequenceConditions,
    RetargetConditions,
    fit_inside,
    fitted_body,
    frame_of,
)

KINDS = ("openpose", "comfyui", "coco17", "smpl")
"""Pose file kinds, as written before the colon of a spec."""
ALIASES = {"dwpose": "comfyui", "amass": "smpl", "coco": "coco17"}

WORLD_TO_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
"""AMASS's z-up world seen by a camera looking along its +y axis (OpenCV axes)."""
PERSON_HEIGHT = 1.7
"""Metres; places AMASS motion at a depth where it fills most of the picture."""


def pose_spec(spec: str | Path) -> tuple[str, Path] | None:
    """``(kind, path)`` of a pose file spec (module docstring), or None when ``spec`` names
    something else (a video file, a folder of frames)."""
    text = str(spec)
    kind, sep, rest = text.partition(":")
    kind = ALIASES.get(kind.lower(), kind.lower())
    if sep and rest and kind in KINDS:
        return kind, Path(rest).expanduser()
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix in (".json", ".npz", ".npy") and not path.is_file():
        raise InputError(f"No such pose file: {path}.", "Check the path.")
    if path.is_dir():
        return ("openpose", path) if any(path.glob("*_keypoints.json")) else None
    if suffix == ".npy":
        return "coco17", path
    if suffix == ".npz" and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return ("smpl", path) if "poses" in z.files else ("coco17", path)
        except (OSError, ValueError) as exc:
            raise InputError(f"Cannot read {path} ({exc}).") from None
    if suffix == ".json" and path.is_file():
        try:
            data = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{path} is not valid JSON ({exc}).") from None
        if is_comfyui(data):
            return "comfyui", path
        if is_coco17(data):
            return "coco17", path
        raise InputError(
            f"{path} is neither ComfyUI POSE_KEYPOINT nor COCO-17 keypoints.",
            "Write the kind before the path (comfyui:FILE, coco17:FILE).",
        )
    return None


@dataclass
class PoseInput:
    """A pose file's contents: keypoints (pixels) or body motion."""

    kind: str
    path: Path
    keypoints: np.ndarray | None = None
    """float32 (T, 25, 3) BODY_25, pixels of the picture they were found in."""
    motion: Motion | None = None
    fps: float | None = None
    """The sequence's own rate, when the file says."""

    def __len__(self) -> int:
        return len(self.motion) if self.motion is not None else len(self.keypoints)


def read_pose_input(kind: str, path: Path) -> PoseInput:
    """Read a pose file of ``kind`` (one of :data:`KINDS`)."""
    if not path.exists():
        raise InputError(f"No such pose file or folder: {path}.")
    if kind == "openpose":
        kp, _ = read_openpose_frames(path)
        return PoseInput(kind, path, keypoints=kp)
    if kind == "comfyui":
        return PoseInput(kind, path, keypoints=read_comfyui(path).keypoints)
    if kind == "coco17":
        return PoseInput(kind, path, keypoints=read_coco17(path))
    motion = read_motion(path)
    return PoseInput(kind, path, motion=motion, fps=motion.fps)


def frame_indices(
    n: int,
    native: float | None,
    fps: float,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> np.ndarray:
    """Which of ``n`` frames at rate ``native`` (None: ``fps``) show the times of a
    sequence at ``fps`` over ``[start, end)`` seconds, at most ``max_frames`` of them."""
    rate = native or fps
    t0 = max(0.0, start or 0.0)
    t1 = n / rate if end is None else min(end, n / rate)
    count = max(0, math.ceil((t1 - t0) * fps - 1e-6))  # the frames shown before t1
    idx = np.rint((t0 + np.arange(count) / fps) * rate - 1e-9).astype(np.int64)
    idx = idx[idx < n]
    if max_frames is not None:
        idx = idx[: max(0, max_frames)]
    if len(idx) < MIN_FRAMES:
        raise InputError(
            f"The pose sequence keeps {len(idx)} frame(s) of {n} after trimming "
            f"(--start {t0:g}, --end {end if end is not None else 'end'}).",
            f"Keep at least {MIN_FRAMES} frames.",
        )
    return idx


def amass_to_camera(pose: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AMASS motion (z-up world) -> camera axes: seen by :data:`WORLD_TO_CAMERA`, turned
    about the vertical so that the first frame faces the camera, the first frame's root at
    the origin. Returns pose (T, 24, 3) and root positions (T, 3)."""
    root = axis_angle_to_matrix(torch.as_tensor(pose[:, 0], dtype=torch.float64)).numpy()
    m = WORLD_TO_CAMERA @ root
    forward = m[0][:, 2]  # the body's +z, where it faces
    turn = rotation_np("y", math.pi - math.atan2(forward[0], forward[2]))
    m = turn @ m
    out = np.array(pose, np.float32, copy=True)
    out[:, 0] = matrix_to_axis_angle(m)
    p = (turn @ WORLD_TO_CAMERA @ np.asarray(trans, np.float64).T).T
    return out, (p - p[0]).astype(np.float32)


class MotionConditions(RetargetConditions):
    """Conditions from body motion: the motion's pose drives a body of the target's shape,
    placed on the target's ground line and range of motion like a ``3d`` retarget."""

    def __init__(self, motion: Motion, target: VideoStore) -> None:
        self.mode, self.source, self.target = "3d", None, target
        self.shape = frame_of(target)
        h, w = self.shape
        self.model, self.body, self.betas = fitted_body(target)
        tgt_cam = np.median(target.read("body/camera"), axis=0).astype(np.float32)
        if motion.coordinates == CAMERA:
            pose, transl, cam = motion.pose, motion.trans, motion.camera
            picture = tuple(motion.camera_size) if motion.camera_size else self.shape
        else:
            pose, transl = amass_to_camera(motion.pose, motion.trans)
            transl[:, 2] += tgt_cam[0] * PERSON_HEIGHT / (0.7 * h)
            cam = np.tile(np.array([tgt_cam[0], w / 2, h / 2], np.float32), (len(pose), 1))
            picture = self.shape
        self.pre_scale, self.pre_shift = fit_inside(picture, self.shape)
        self._place_3d(target.read("keypoints"), pose, transl, cam)


def pose_conditions(
    spec: str | Path,
    target: VideoStore,
    fps: float | None = None,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> tuple[RetargetConditions, float, list[str]]:
    """The conditions of the pose file ``spec`` for rendering ``target``'s model, the rate
    to show them at, and notes for the user."""
    found = pose_spec(spec)
    if found is None:
        raise InputError(
            f"Cannot read --poses {str(spec)!r}.",
            "Give openpose:DIR, comfyui:FILE.json, coco17:FILE or smpl:FILE.npz.",
        )
    data = read_pose_input(*found)
    target_fps = float(target.meta("extract")["fps"])
    out_fps = float(fps or data.fps or target_fps)
    idx = frame_indices(len(data), data.fps, out_fps, start, end, max_frames)
    notes = []
    if data.fps and abs(data.fps - out_fps) > 1e-6:
        notes.append(f"{found[1].name}: {data.fps:g} fps resampled to {out_fps:g} fps")
    if data.motion is not None:
        m = data.motion
        sub = Motion(m.pose[idx], m.trans[idx], out_fps, m.coordinates, m.betas,
                     None if m.camera is None else m.camera[idx], m.camera_size, m.body_model)  # fmt: skip
        return MotionConditions(sub, target), out_fps, notes
    assert data.keypoints is not None
    return PoseSequenceConditions(data.keypoints[idx], target), out_fps, notes
