"""Fixtures for the person stages: a real photo of a person moving over a tiny clip, and
OpenPose files with known keypoints.

The astronaut clip is prepared once per test session (MediaPipe costs ~30 ms a frame);
tests that only read its arrays share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace
from ptx.io.openpose import write_openpose_frames
from ptx.io.testclips import write_clip
from ptx.pipeline.runner import prepare_video

ASTRO_FRAMES = 16
ASTRO_SIZE = (288, 240)
"""Width, height of the astronaut clip."""
CANONICAL = 256


@dataclass(frozen=True)
class Placement:
    """Where frame t shows the photo: photo pixel p lands at ``p * scale + offset``."""

    scale: float
    offset: tuple[float, float]

    def apply(self, xy: np.ndarray) -> np.ndarray:
        return np.asarray(xy, dtype=np.float64) * self.scale + self.offset

    def invert(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, dtype=np.float64) - self.offset) / self.scale


def astronaut_placements(n: int = ASTRO_FRAMES) -> list[Placement]:
    """The photo drifts right and down while it grows from 0.34x to 0.40x."""
    out = []
    for i in range(n):
        f = i / (n - 1)
        out.append(Placement(0.34 + 0.06 * f, (20.0 + 60.0 * f, 10.0 + 20.0 * f)))
    return out


def render_astronaut(p: Placement, size: tuple[int, int] = ASTRO_SIZE) -> np.ndarray:
    """The photo placed by ``p`` on a grey canvas: uint8 (H, W, 3)."""
    s, (ox, oy) = p.scale, p.offset
    # ptx pixel centres are at i + 0.5, cv2's at i.
    m = np.array([[s, 0, 0.5 * s + ox - 0.5], [0, s, 0.5 * s + oy - 0.5]])
    return cv2.warpAffine(
        data.astronaut(), m, size, flags=cv2.INTER_AREA, borderValue=(128, 128, 128)
    )


def write_astronaut_clip(path: Path, placements: list[Placement]) -> Path:
    images = [render_astronaut(p) for p in placements]
    w, h = ASTRO_SIZE
    return write_clip(path, width=w, height=h, images=images, lossless=False, preset="medium")


@dataclass
class Prepared:
    video: Path
    store: VideoStore
    placements: list[Placement]
    outcomes: dict


@pytest.fixture(scope="session")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The astronaut clip prepared through poselabel at 256 px (shared, read-only)."""
    root = tmp_path_factory.mktemp("astronaut")
    placements = astronaut_placements()
    video = write_astronaut_clip(root / "astronaut.mp4", placements)
    ws = Workspace(root / "ws")
    res = prepare_video(video, ws, "astro", {"crop": {"size": CANONICAL}}, until="poselabel")
    outcomes = {o.stage: o for o in res.outcomes}
    return Prepared(video, VideoStore(ws, res.video_id), placements, outcomes)


def walking_keypoints(n: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """A BODY_25 figure walking across a ``width`` x ``height`` picture: float32 (n, 25, 3)
    in that picture's pixels, confidence 0.9, a little jitter."""
    rng = np.random.default_rng(seed)
    # A standing figure 1 unit tall, feet at y = 1 (x right, y down).
    pose = np.array([
        [0.0, 0.08], [0.0, 0.18], [-0.1, 0.18], [-0.14, 0.34], [-0.15, 0.48], [0.1, 0.18],
        [0.14, 0.34], [0.15, 0.48], [0.0, 0.5], [-0.06, 0.5], [-0.07, 0.74], [-0.07, 0.96],
        [0.06, 0.5], [0.07, 0.74], [0.07, 0.96], [-0.02, 0.06], [0.02, 0.06], [-0.04, 0.07],
        [0.04, 0.07], [0.1, 1.0], [0.12, 0.99], [0.06, 0.98], [-0.1, 1.0], [-0.12, 0.99],
        [-0.06, 0.98],
    ])  # fmt: skip
    tall = 0.6 * height
    kp = np.zeros((n, 25, 3), np.float32)
    for t in range(n):
        cx = width * (0.3 + 0.4 * t / max(1, n - 1))
        xy = pose * tall + (cx, 0.25 * height) + rng.normal(0, 0.5, (25, 2))
        kp[t, :, :2] = xy
        kp[t, :, 2] = 0.9
    return kp


@pytest.fixture
def render():
    """``render(placement) -> uint8 (H, W, 3)``: the astronaut photo placed on the canvas."""
    return render_astronaut


@pytest.fixture
def walking():
    """``walking(n, width, height) -> float32 (n, 25, 3)``: see :func:`walking_keypoints`."""
    return walking_keypoints


@pytest.fixture
def openpose_clip(tmp_path: Path):
    """``make(n=12, size=(320, 240), people=None) -> (video, json_dir, keypoints)``: a
    pattern clip plus OpenPose BODY_25 files of a figure walking across it (source pixels)."""

    def make(n: int = 12, size: tuple[int, int] = (320, 240), people=None, name="walk"):
        w, h = size
        video = write_clip(tmp_path / f"{name}.mp4", frames=n, width=w, height=h)
        kp = walking_keypoints(n, w, h)
        folder = tmp_path / f"{name}-json"
        write_openpose_frames(folder, kp, people_present=people)
        return video, folder, kp

    return make
