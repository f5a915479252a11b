"""`ptx export`: a prepared video's analysis in the formats other tools read.

=============  ==============================================================  ==========
``what``       writes                                                          format
=============  ==============================================================  ==========
openpose       ``<name>_<frame:012d>_keypoints.json`` per frame, BODY_25 or     json
               COCO-18 (``skeleton``), canonical or source-video pixels
               (``coords``; source files are numbered by source frame, so
               ``ptx prepare VIDEO --keypoints openpose:DIR`` reads them back)
comfyui        ``<name>_pose_keypoints.json``: ComfyUI's POSE_KEYPOINT list     json
               with the canvas size (:mod:`ptx.io.comfyui`)
pose-video     the COCO-18 skeleton on black in ControlNet's annotator          mp4 | png
               colours (:mod:`ptx.body.controlnet_pose`)
mask           the person matte (0..255)                                        png | mp4
iuv            DensePose-style IUV images ``<frame:06d>_IUV.png`` (I, U, V as   png
               OpenCV reads them; ``--iuv densepose:DIR`` reads them back)
background     the clean background plate ``<name>_background.png``            png
smpl           ``<name>_smpl.npz``: poses (T, 72), betas, trans, camera, fps    npz
               (:mod:`ptx.io.smpl_motion`; AMASS's and Blender's layout)
frames         the canonical frames                                            png | mp4
=============  ==============================================================  ==========

Pictures are the canonical frames ptx works in (the crop around the person); PNG
sequences are ``<frame:06d>.png`` in the output folder. A subject with several videos gets
one sub-folder per video id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ptx.body.controlnet_pose import draw_controlnet_pose
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.errors import InputError
from ptx.io.comfyui import write_comfyui
from ptx.io.openpose import write_openpose_frames
from ptx.io.smpl_motion import write_motion
from ptx.io.writer import VideoWriter
from ptx.pipeline.crop import CropBox
from ptx.pipeline.registry import producers
from ptx.tools.inspect import resolve_videos

WHATS = ("openpose", "comfyui", "pose-video", "mask", "iuv", "background", "smpl", "frames")
"""What `ptx export --what` accepts."""
FORMATS = {"pose-video": ("mp4", "png"), "mask": ("png", "mp4"), "frames": ("png", "mp4")}
"""The formats of picture exports (the first is the default)."""
OPEN_BODY_NOTE = (
    "Fitted with ptx's open body model: the poses use SMPL's 24-joint tree and axes, but "
    "betas are the open model's shape coefficients, not SMPL's; prepare with --body "
    "smpl:PATH for SMPL betas."
)


@dataclass
class ExportResult:
    """What an export wrote."""

    what: str
    outputs: list[Path]
    """The files or folders written, one per video."""
    frames: int
    """Frames exported (summed over videos)."""
    notes: list[str] = field(default_factory=list)


@dataclass
class _Job:
    store: VideoStore
    name: str
    dest: Path
    skeleton: str
    coords: str
    fmt: str
    notes: list[str]

    @property
    def fps(self) -> float:
        return float(self.store.meta("extract")["fps"])

    def need(self, *arrays: str) -> None:
        for a in arrays:
            if not self.store.has(a):
                stage = producers().get(a, "?")
                raise InputError(
                    f"Video {self.store.video_id} has no '{a}' yet (stage '{stage}').",
                    f"Run `ptx prepare` on it until '{stage}' is complete.",
                )


def export(
    ws: Workspace,
    target: str | Path,
    what: str,
    output: Path | str,
    skeleton: str = "body25",
    coords: str = "canonical",
    fmt: str | None = None,
) -> ExportResult:
    """Export ``what`` (see the module docstring) of ``target`` (a prepared video file or
    frame folder, a subject or a video id) into the folder ``output``."""
    if what not in WHATS:
        raise InputError(f"Cannot export {what!r}.", f"Use one of: {', '.join(WHATS)}.")
    if skeleton not in ("body25", "coco18"):
        raise InputError(f"Unknown --skeleton {skeleton!r}.", "Use body25 or coco18.")
    if coords not in ("canonical", "source"):
        raise InputError(f"Unknown --coords {coords!r}.", "Use canonical or source.")
    formats = FORMATS.get(what, ())
    if fmt is not None and fmt not in formats:
        allowed = ", ".join(formats) or "no --format"
        raise InputError(f"--what {what} cannot be written as {fmt!r}.", f"It takes {allowed}.")
    videos = resolve_videos(ws, str(target))
    output = Path(output)
    result = ExportResult(what, [], 0)
    for label, vid in videos:
        dest = output / vid if len(videos) > 1 else output
        dest.mkdir(parents=True, exist_ok=True)
        job = _Job(VideoStore(ws, vid), label, dest, skeleton, coords,
                   fmt or (formats[0] if formats else ""), result.notes)  # fmt: skip
        path, frames = EXPORTERS[what](job)
        result.outputs.append(path)
        result.frames += frames
    return result


# --- keypoints -------------------------------------------------------------------------


def _keypoints(job: _Job) -> tuple[np.ndarray, tuple[int, int], np.ndarray | None]:
    """The canonical keypoints (or source-pixel ones), the (width, height) of their picture,
    and the source frame numbers (source coordinates) or None."""
    job.need("keypoints")
    kp = job.store.read("keypoints").astype(np.float64)
    h, w = job.store.open_array("frames").shape[1:3]
    if job.coords == "canonical":
        return kp, (int(w), int(h)), None
    crop = job.store.meta("crop")
    kp = CropBox.from_meta(crop).to_source(kp)
    ext = job.store.meta("extract")
    t = np.arange(len(kp))
    numbers = np.rint((ext["start"] + t / ext["fps"]) * ext["source_fps"] + 1e-6).astype(int)
    return kp, (int(crop["source_width"]), int(crop["source_height"])), numbers


def _openpose(job: _Job) -> tuple[Path, int]:
    kp, _, numbers = _keypoints(job)
    present = (kp[:, :25, 2] > 0).any(axis=1)
    model = "BODY_25" if job.skeleton == "body25" else "COCO"
    write_openpose_frames(job.dest, kp, job.name, present, model, numbers)
    return job.dest, len(kp)


def _comfyui(job: _Job) -> tuple[Path, int]:
    kp, (w, h), _ = _keypoints(job)
    path = write_comfyui(job.dest / f"{job.name}_pose_keypoints.json", kp, w, h)
    return path, len(kp)


def _smpl(job: _Job) -> tuple[Path, int]:
    job.need("body/pose", "body/transl", "body/camera", "body/shape")
    s, meta = job.store, job.store.meta("fit")
    body = "open" if str(meta.get("body", "open")) == "open" else "smpl"
    if body == "open":
        job.notes.append(OPEN_BODY_NOTE)
    h, w = s.open_array("frames").shape[1:3]
    pose = s.read("body/pose")
    path = write_motion(
        job.dest / f"{job.name}_smpl.npz", pose, s.read("body/transl"), s.read("body/shape"),
        job.fps, s.read("body/camera"), (int(h), int(w)), body,
        OPEN_BODY_NOTE if body == "open" else "",
    )  # fmt: skip
    return path, len(pose)


# --- pictures --------------------------------------------------------------------------


def _pictures(job: _Job, n: int, frame: Callable[[int, int], np.ndarray], what: str) -> Path:
    """Write frames ``frame(a, b) -> uint8 (b - a, H, W[, 3])`` as PNGs or one mp4."""
    step = 16
    if job.fmt == "mp4":
        first = frame(0, 1)[0]
        h, w = first.shape[:2]
        path = job.dest / f"{job.name}_{what}.mp4"
        with VideoWriter(path, job.fps, (w, h)) as writer:
            for a in range(0, n, step):
                for img in frame(a, min(n, a + step)):
                    writer.write(np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img)
        return path
    for a in range(0, n, step):
        for i, img in enumerate(frame(a, min(n, a + step))):
            bgr = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            _imwrite(job.dest / f"{a + i:06d}.png", bgr)
    return job.dest


def _imwrite(path: Path, img: np.ndarray) -> None:
    if not cv2.imwrite(str(path), img):
        raise InputError(f"Cannot write {path}.", "Check that the folder is writable.")


def _pose_video(job: _Job) -> tuple[Path, int]:
    job.need("keypoints")
    kp = job.store.read("keypoints")
    h, w = job.store.open_array("frames").shape[1:3]

    def draw(a: int, b: int) -> np.ndarray:
        return np.stack([draw_controlnet_pose(k, (int(h), int(w))) for k in kp[a:b]])

    return _pictures(job, len(kp), draw, "pose"), len(kp)


def _array_pictures(name: str, what: str) -> Callable[[_Job], tuple[Path, int]]:
    def run(job: _Job) -> tuple[Path, int]:
        job.need(name)
        n = int(job.store.open_array(name).shape[0])
        return _pictures(job, n, lambda a, b: job.store.read(name, a, b), what), n

    return run


def _iuv(job: _Job) -> tuple[Path, int]:
    job.need("iuv")
    n = int(job.store.open_array("iuv").shape[0])
    for a in range(0, n, 16):
        for i, img in enumerate(job.store.read("iuv", a, min(n, a + 16))):
            _imwrite(job.dest / f"{a + i:06d}_IUV.png", img)  # channels as OpenCV reads them
    return job.dest, n


def _background(job: _Job) -> tuple[Path, int]:
    job.need("background")
    img = job.store.read("background")
    path = job.dest / f"{job.name}_background.png"
    _imwrite(path, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return path, 1


EXPORTERS: dict[str, Callable[[_Job], tuple[Path, int]]] = {
    "openpose": _openpose,
    "comfyui": _comfyui,
    "pose-video": _pose_video,
    "mask": _array_pictures("mask", "mask"),
    "iuv": _iuv,
    "background": _background,
    "smpl": _smpl,
    "frames": _array_pictures("frames", "frames"),
}
