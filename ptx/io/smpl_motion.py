"""Body motion as ``.npz``: the layout AMASS publishes and Blender's SMPL add-ons read.

Keys ptx writes (``ptx export --what smpl``):

- ``poses`` float32 (T, 72): axis-angle of SMPL's 24 joints (joint 0 = global orientation);
- ``trans`` float32 (T, 3): where the root joint is, metres;
- ``betas`` float32 (B,): the person's shape (SMPL's coefficients only when the fit used
  an SMPL file: see ``body_model`` and ``note``);
- ``gender`` (``neutral``), ``mocap_framerate`` and ``fps`` (frames per second);
- ``camera`` float32 (T, 3): focal length and principal point (pixels) of the picture the
  motion was fitted in, ``camera_size`` (height, width) of that picture;
- ``coordinates``: ``opencv-camera`` (x right, y down, z away from the camera);
- ``body_model`` (``open`` or ``smpl``) and ``note``.

Read (``--poses FILE.npz``, ``transfer --source FILE.npz``): ``poses`` (T, 72) SMPL,
(T, 156) SMPL-H or (T, 165) SMPL-X (the first 22 joints are taken; SMPL's two hand joints
stay at rest), ``trans``, and the rate from ``mocap_framerate``, ``mocap_frame_rate`` or
``fps``. Files without ``coordinates`` are AMASS's: a z-up world.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptx.cache.atomic import atomic_write_bytes
from ptx.errors import InputError

CAMERA = "opencv-camera"
"""``coordinates`` of motion in a camera's axes (what ptx's fit produces)."""
AMASS = "amass-z-up"
"""``coordinates`` of motion in AMASS's world (z up), the default for files without it."""
RATE_KEYS = ("mocap_framerate", "mocap_frame_rate", "fps", "frame_rate")


@dataclass
class Motion:
    """A body's motion (see the module docstring)."""

    pose: np.ndarray
    """float32 (T, 24, 3) axis-angle per joint."""
    trans: np.ndarray
    """float32 (T, 3) metres."""
    fps: float | None
    """Frames per second, None when the file does not say."""
    coordinates: str = AMASS
    betas: np.ndarray | None = None
    camera: np.ndarray | None = None
    """float32 (T, 3) focal, cx, cy in pixels (``opencv-camera`` motion), else None."""
    camera_size: tuple[int, int] | None = None
    """(height, width) of the picture ``camera`` belongs to."""
    body_model: str = "smpl"

    def __len__(self) -> int:
        return len(self.pose)


def write_motion(
    path: Path | str,
    pose: np.ndarray,
    trans: np.ndarray,
    betas: np.ndarray,
    fps: float,
    camera: np.ndarray,
    camera_size: tuple[int, int],
    body_model: str,
    note: str = "",
) -> Path:
    """Write a fitted motion: ``pose`` (T, 24, 3), ``trans`` (T, 3), ``betas`` (B,),
    ``camera`` (T, 3) in pixels of a ``camera_size`` (height, width) picture."""
    import io

    t = len(pose)
    buf = io.BytesIO()
    np.savez(
        buf,
        poses=np.asarray(pose, np.float32).reshape(t, 72),
        trans=np.asarray(trans, np.float32).reshape(t, 3),
        betas=np.asarray(betas, np.float32).reshape(-1),
        gender=np.array("neutral"),
        mocap_framerate=np.array(float(fps)),
        fps=np.array(float(fps)),
        camera=np.asarray(camera, np.float32).reshape(t, 3),
        camera_size=np.asarray(camera_size, np.int64),
        coordinates=np.array(CAMERA),
        body_model=np.array(body_model),
        note=np.array(note),
    )
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _scalar(z: np.lib.npyio.NpzFile, key: str) -> object:
    return z[key].item() if z[key].ndim == 0 else z[key].reshape(-1)[0].item()


def read_motion(path: Path | str) -> Motion:
    """Read an SMPL-family motion file (module docstring); InputError when it is not one."""
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {path} as an .npz file ({exc}).") from None
    with z:
        if "poses" not in z.files:
            raise InputError(
                f"{path} has no 'poses' array ({', '.join(z.files) or 'no arrays'}).",
                "Give an AMASS/SMPL motion .npz (poses, trans, mocap_framerate).",
            )
        poses = np.asarray(z["poses"], np.float32)
        if poses.ndim != 2 or poses.shape[1] < 66 or poses.shape[1] % 3:
            raise InputError(
                f"{path}: poses is {poses.shape}; expected (T, 72), (T, 156) or (T, 165)."
            )
        t = len(poses)
        pose = np.zeros((t, 24, 3), np.float32)
        joints = 24 if poses.shape[1] == 72 else 22
        pose[:, :joints] = poses[:, : 3 * joints].reshape(t, joints, 3)
        trans = np.asarray(z["trans"], np.float32) if "trans" in z.files else np.zeros((t, 3))
        if trans.shape != (t, 3):
            raise InputError(f"{path}: trans is {trans.shape}, poses has {t} frames.")
        rate = next((float(_scalar(z, k)) for k in RATE_KEYS if k in z.files), None)
        coords = str(_scalar(z, "coordinates")) if "coordinates" in z.files else AMASS
        camera = np.asarray(z["camera"], np.float32) if "camera" in z.files else None
        size = tuple(int(v) for v in z["camera_size"]) if "camera_size" in z.files else None
        betas = np.asarray(z["betas"], np.float32).reshape(-1) if "betas" in z.files else None
        body = str(_scalar(z, "body_model")) if "body_model" in z.files else "smpl"
    if coords not in (CAMERA, AMASS):
        raise InputError(f"{path}: unknown coordinates {coords!r}.")
    if coords == CAMERA and (camera is None or size is None or camera.shape != (t, 3)):
        raise InputError(f"{path}: camera-space motion without a camera for each frame.")
    return Motion(pose, trans.astype(np.float32), rate, coords, betas, camera, size, body)
