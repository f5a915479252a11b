"""A synthetic subject with ground truth: the fixture of every downstream test and of
``make demo``.

The open body model, with a random shape, clothing-like textures and pose-dependent
shading, performs a procedural motion (``ptx.body.motion``) in front of a static textured
background, filmed by a fixed pinhole camera (focal ``FOCAL`` x the frame's height,
centred). Frames are ``size`` x ``size`` by default, or ``width`` x ``height`` (portrait or
landscape: the subject keeps its size in the picture's height). Writing a subject produces
``OUT.mp4`` (H.264) and beside it ``OUT_gt/``:

- ``openpose/``: BODY_25 keypoints as OpenPose JSON, one file per frame (for
  ``ptx prepare OUT.mp4 --keypoints openpose:OUT_gt/openpose``);
- ``gt.npz``: ``frames`` uint8 (T, H, W, 3) (the lossless images), ``keypoints`` float32
  (T, 25, 3), ``mask`` uint8 (T, H, W) (255 on the body), ``iuv`` uint8 (T, H, W, 3),
  ``label3d`` uint8 (T, H, W, 3), ``pose`` float32 (T, 24, 3), ``transl`` float32 (T, 3),
  ``betas`` float32 (10,), ``camera`` float32 (3,) (focal, cx, cy), ``background`` uint8
  (H, W, 3);
- ``background.png`` and ``meta.json`` (motion, seed, size, fps, frame count, model).

Everything is a function of the config: the same seed gives the same arrays.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ptx.body import appearance
from ptx.body.model import BodyModel, TorchBody, posed_numpy
from ptx.body.motion import MOTIONS, motion
from ptx.body.open_model import open_body_model
from ptx.body.render import iuv_image, label3d_image, render_frame
from ptx.body.rotation import matrix_to_axis_angle, rotation_np
from ptx.cache.atomic import atomic_write_json, translate_os_error
from ptx.errors import InputError
from ptx.io.openpose import write_openpose_frames

FOCAL = 0.9
"""Focal length of the synthetic camera, in units of the frame's height."""
DEPTH = 2.0
"""Distance of the subject from the camera (m)."""
FLOOR = 0.93
"""Image row of the floor line, as a fraction of the frame size."""


@dataclass
class SynthConfig:
    motion: str = "dance"
    """One of ``dance``, ``walk``, ``wave``."""
    frames: int = 64
    """Number of frames."""
    size: int = 256
    """Frame width and height in pixels (even), unless ``width`` / ``height`` are set."""
    width: int = 0
    """Frame width in pixels (even; 0: ``size``)."""
    height: int = 0
    """Frame height in pixels (even; 0: ``size``)."""
    seed: int = 0
    """Seed of everything random: shape, clothes, background (the appearance), and the
    motion's details unless ``motion_seed`` is set."""
    motion_seed: int | None = None
    """Seed of the motion's details alone, so that one person can be rendered doing a new
    motion, or several people the identical motion (None: drawn from ``seed`` after the
    appearance, as subjects made before this setting existed)."""
    fps: float = 25.0
    """Frame rate of the video."""
    supersample: int = 2
    """Render the RGB frames at this many times the size, then downsample (anti-aliasing)."""

    @property
    def shape(self) -> tuple[int, int]:
        """The frames' (H, W)."""
        return self.height or self.size, self.width or self.size


@dataclass
class SynthSubject:
    """A synthetic subject in memory (see the module docstring for the arrays)."""

    config: SynthConfig
    frames: np.ndarray
    keypoints: np.ndarray
    mask: np.ndarray
    iuv: np.ndarray
    label3d: np.ndarray
    pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    camera: np.ndarray
    background: np.ndarray

    ARRAYS = (
        "frames", "keypoints", "mask", "iuv", "label3d", "pose", "transl", "betas",
        "camera", "background",
    )  # fmt: skip


MAX_SIZE = 2048
MAX_BYTES = 4 << 30
"""Largest synthetic subject held in memory (its frames, masks, IUV and 3D labels)."""


def _check(cfg: SynthConfig) -> None:
    if cfg.motion not in MOTIONS:
        raise InputError(f"Unknown motion {cfg.motion!r}.", f"Choose one of {', '.join(MOTIONS)}.")
    for name, value in (("--size", cfg.size), ("--width", cfg.width), ("--height", cfg.height)):
        if value and (value < 32 or value % 2):
            raise InputError(f"{name} {value} must be even and at least 32.")
    if cfg.size < 32:
        raise InputError(f"--size {cfg.size} must be even and at least 32.")
    if cfg.size > MAX_SIZE:
        raise InputError(f"--size {cfg.size} is too large.", f"Use at most {MAX_SIZE} pixels.")
    if not 2 <= cfg.frames <= 100_000:
        raise InputError(f"--frames {cfg.frames} must be between 2 and 100000.")
    need = cfg.frames * cfg.size**2 * 10  # frames 3, mask 1, iuv 3, label3d 3 bytes a pixel
    if need > MAX_BYTES:
        raise InputError(
            f"{cfg.frames} frames at {cfg.size} px would need {need / 2**30:.1f} GiB of memory.",
            "Use fewer frames or a smaller --size.",
        )
    if not 0 < cfg.fps <= 240:
        raise InputError(f"--fps {cfg.fps} is out of range (0 < fps <= 240).")
    if cfg.supersample not in (1, 2, 3, 4):
        raise InputError(f"supersample {cfg.supersample} must be 1..4.")


def _place(body: TorchBody, model: BodyModel, betas, local, yaw, sway):
    """Root rotation and translation that put the subject's feet on the floor line."""
    n = len(local)
    pose = local.copy()
    for t in range(n):
        rot = rotation_np("x", np.pi) @ rotation_np("y", float(yaw[t]))
        pose[t, 0] = matrix_to_axis_angle(rot)
    floor_cam = (FLOOR - 0.5) / FOCAL * DEPTH
    feet = np.unique(model.faces[np.isin(model.face_part, (5, 6))])
    verts, _, _, _ = posed_numpy(body, betas, pose, np.zeros((n, 3), np.float32), False)
    lowest = verts[:, feet, 1].max(axis=1)
    transl = np.stack([sway, floor_cam - lowest, np.full(n, DEPTH)], axis=1)
    return pose.astype(np.float32), transl.astype(np.float32)


def synth_subject(cfg: SynthConfig) -> SynthSubject:
    """Generate a synthetic subject in memory."""
    _check(cfg)
    rng = np.random.default_rng(cfg.seed)
    model = open_body_model()
    body = TorchBody(model)
    h, w = cfg.shape
    k = cfg.supersample
    betas = np.clip(rng.normal(0, 0.7, model.n_betas), -1.5, 1.5).astype(np.float32)
    tex = appearance.part_textures(rng)
    bg = appearance.background(rng, (h, w), FLOOR)
    motion_rng = rng if cfg.motion_seed is None else np.random.default_rng(cfg.motion_seed)
    local, yaw, sway = motion(cfg.motion, cfg.frames, cfg.fps, motion_rng)
    pose, transl = _place(body, model, betas, local, yaw, sway)
    camera = np.array([FOCAL * h, w / 2, h / 2], np.float32)
    cam_ss = camera * cfg.supersample
    verts, normals, _, kp3d = posed_numpy(body, betas, pose, transl, True)
    folds = appearance.fold_amount(appearance.fold_weights(model), pose)
    bg_f = bg.astype(np.float32) / 255

    n = cfg.frames
    out = {
        "frames": np.zeros((n, h, w, 3), np.uint8),
        "mask": np.zeros((n, h, w), np.uint8),
        "iuv": np.zeros((n, h, w, 3), np.uint8),
        "label3d": np.zeros((n, h, w, 3), np.uint8),
    }
    for t in range(n):
        fr = render_frame(model, verts[t], camera, (h, w), normals[t])
        out["iuv"][t] = iuv_image(fr)
        out["label3d"][t] = label3d_image(fr)
        out["mask"][t] = np.where(fr.face >= 0, 255, 0)
        big = render_frame(model, verts[t], cam_ss, (h * k, w * k), normals[t], folds[t])
        on = big.face >= 0
        colour = np.zeros((h * k, w * k, 3), np.float32)
        colour[on] = appearance.shade(
            tex, big.part[on], big.uv[on], big.normal[on], big.extra[on][:, 0]
        )
        alpha = on.astype(np.float32)
        if cfg.supersample > 1:  # box-filter the premultiplied colour and the coverage
            colour = cv2.resize(colour, (w, h), interpolation=cv2.INTER_AREA)
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
        img = colour + bg_f * (1.0 - alpha[..., None])
        out["frames"][t] = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    kp = np.zeros((n, 25, 3), np.float32)
    z = np.maximum(kp3d[..., 2], 1e-6)
    kp[..., 0] = camera[0] * kp3d[..., 0] / z + camera[1]
    kp[..., 1] = camera[0] * kp3d[..., 1] / z + camera[2]
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < w) & (kp[..., 1] >= 0) & (kp[..., 1] < h)
    kp[..., 2] = inside.astype(np.float32)
    return SynthSubject(
        config=cfg,
        keypoints=kp,
        pose=pose,
        transl=transl,
        betas=betas,
        camera=camera,
        background=bg,
        **out,
    )


def gt_dir_for(video: Path | str) -> Path:
    """Where the ground truth of synthetic video ``video`` lives (``OUT_gt/``)."""
    video = Path(video)
    return video.with_name(video.stem + "_gt")


def write_video(path: Path, frames: np.ndarray, fps: float, crf: int = 16) -> None:
    """Encode uint8 (T, H, W, 3) RGB frames as H.264 (yuv420p) with PyAV."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "fast", "threads": "1"}
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_subject(subject: SynthSubject, video: Path | str) -> Path:
    """Write the video and its ground truth folder; returns the folder. Both are written
    under temporary names and renamed into place at the end (the video last), so a full
    disk or a kill leaves no partial output."""
    video = _check_output(video)
    gt = gt_dir_for(video)
    tmp_video = video.with_name(f".{video.name}.partial.mp4")
    tmp_gt = gt.with_name(f".{gt.name}.partial")
    shutil.rmtree(tmp_gt, ignore_errors=True)
    try:
        tmp_gt.mkdir()
        cfg = subject.config
        write_video(tmp_video, subject.frames, cfg.fps)
        write_openpose_frames(tmp_gt / "openpose", subject.keypoints, name=video.stem)
        arrays = {k: getattr(subject, k) for k in SynthSubject.ARRAYS}
        np.savez_compressed(tmp_gt / "gt.npz", **arrays)
        if not cv2.imwrite(str(tmp_gt / "background.png"), subject.background[..., ::-1]):
            raise OSError(errno.EIO, "cannot write background.png", str(tmp_gt))
        atomic_write_json(
            tmp_gt / "meta.json",
            {**asdict(cfg), "model": "open", "focal": FOCAL, "video": video.name},
        )
        if gt.is_dir():
            shutil.rmtree(gt)
        tmp_gt.rename(gt)
        os.replace(tmp_video, video)
    except BaseException as exc:
        shutil.rmtree(tmp_gt, ignore_errors=True)
        tmp_video.unlink(missing_ok=True)
        err = translate_os_error(exc, video, "writing") if isinstance(exc, OSError) else exc
        if err is exc:
            raise
        raise err from exc
    return gt


def synthesize(video: Path | str, cfg: SynthConfig) -> Path:
    """Generate a subject and write it (see the module docstring); returns the GT folder."""
    _check_output(video)
    return write_subject(synth_subject(cfg), video)


def synthesize_people(folder: Path | str, cfg: SynthConfig, people: int) -> list[Path]:
    """Write ``people`` different synthetic people performing the identical motion into
    ``folder`` (``person-00.mp4``, ... each with its ground truth): person i has the
    appearance of seed ``cfg.seed + i`` and the motion of ``cfg.motion_seed`` (default
    ``cfg.seed``), so person B's frames are the ground truth of person A's motion on B."""
    folder = Path(folder)
    if not 1 <= people <= 10_000:
        raise InputError(f"--people {people} must be between 1 and 10000.")
    if folder.suffix.lower() == ".mp4" or (folder.exists() and not folder.is_dir()):
        raise InputError(
            f"{folder} is not a folder.", "With --people, give a folder to write into."
        )
    _check(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    motion_seed = cfg.seed if cfg.motion_seed is None else cfg.motion_seed
    width = len(str(people - 1))
    out = []
    for i in range(people):
        person = replace(cfg, seed=cfg.seed + i, motion_seed=motion_seed)
        video = folder / f"person-{i:0{max(2, width)}d}.mp4"
        synthesize(video, person)
        out.append(video)
    return out


def _check_output(video: Path | str) -> Path:
    video = Path(video)
    if video.suffix.lower() != ".mp4":
        raise InputError(f"{video} should end in .mp4.", "Give an output path like subject.mp4.")
    if not video.parent.is_dir():
        raise InputError(f"The folder {video.parent} does not exist.", "Create it first.")
    return video


def load_ground_truth(video: Path | str) -> dict[str, np.ndarray]:
    """The arrays of ``gt.npz`` beside a synthetic video, plus ``meta``."""
    gt = gt_dir_for(video)
    if not (gt / "gt.npz").is_file():
        raise InputError(f"No ground truth at {gt}.", "Generate the video with `ptx synth`.")
    with np.load(gt / "gt.npz") as data:
        out = {k: data[k] for k in data.files}
    out["meta"] = json.loads((gt / "meta.json").read_text())
    return out
