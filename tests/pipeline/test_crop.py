"""The crop: one square around the whole range of motion; exact mapping back to the source."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.cache.store import VideoStore
from ptx.pipeline.crop import CropBox, canonical_to_source, choose_box, crop_frame
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video


def _inside(box: CropBox, xy: np.ndarray) -> bool:
    x, y = xy[..., 0], xy[..., 1]
    return bool(
        ((x >= box.x0) & (x <= box.x0 + box.side) & (y >= box.y0) & (y <= box.y0 + box.side)).all()
    )


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("size", [(640, 360), (360, 640), (300, 300)])
def test_box_contains_every_keypoint_of_every_frame(margin, size):
    w, h = size
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = rng.integers(2, 30)
        centre = rng.uniform(0, 1, 2) * (w, h)
        spread = rng.uniform(5, 0.6 * min(w, h), 2)
        kp = np.concatenate(
            [
                np.clip(centre + rng.normal(0, 1, (n, 25, 2)) * spread, 0, (w, h)),
                rng.uniform(0.1, 1, (n, 25, 1)),
            ],
            -1,
        )
        box = choose_box(kp, w, h, 256, margin)
        assert _inside(box, kp[..., :2])
        assert box.side <= max(w, h)
        if box.side <= w:
            assert box.x0 >= 0 and box.x0 + box.side <= w  # inside when it fits
        if box.side <= h:
            assert box.y0 >= 0 and box.y0 + box.side <= h


def test_box_ignores_missing_joints_and_clips_to_the_picture():
    kp = np.zeros((3, 25, 3))
    kp[:, :, :2] = (100.0, 100.0)
    kp[:, :, 2] = 0.9
    kp[:, 0, :2] = (120.0, 60.0)
    kp[1, 5] = (0.0, 0.0, 0.0)  # missing: not a point at the origin
    kp[2, 7, :2] = (900.0, 100.0)  # estimated outside a 400 px picture
    box = choose_box(kp, 400, 300, 128, margin=0.0)
    assert box.x0 > 50 and box.x0 + box.side >= 400


def test_wide_range_is_centred_and_padded():
    """A person crossing a wide picture: the square takes the picture's width and is
    padded above and below."""
    kp = np.zeros((2, 25, 3))
    kp[0, :, :2], kp[1, :, :2] = (20.0, 100.0), (620.0, 150.0)
    kp[..., 2] = 1.0
    box = choose_box(kp, 640, 360, 256, margin=0.1)
    assert (box.x0, box.side) == (0, 640)
    assert box.y0 == (360 - 640) // 2


def test_mapping_round_trip_is_exact():
    box = CropBox(x0=-37, y0=113, side=917, size=512)
    rng = np.random.default_rng(3)
    pts = np.concatenate([rng.uniform(-50, 1500, (100, 2)), rng.uniform(0.01, 1, (100, 1))], 1)
    np.testing.assert_allclose(box.to_source(box.to_canonical(pts)), pts, rtol=0, atol=1e-9)
    pts[5] = 0.0
    assert (box.to_canonical(pts)[5] == 0).all()  # a missing joint stays missing


def test_crop_frame_puts_source_pixels_where_the_box_says():
    src = np.zeros((100, 160, 3), np.uint8)
    src[40, 70] = (255, 0, 0)
    box = CropBox(x0=-10, y0=20, side=90, size=90)  # no resizing: pixels move exactly
    out = crop_frame(src, box)
    assert out.shape == (90, 90, 3)
    (y, x) = np.argwhere(out[..., 0] == 255)[0]
    np.testing.assert_allclose(box.to_source(np.array([x + 0.5, y + 0.5])), (70.5, 40.5))
    assert not out[:, :10].any()  # left of the picture: padding


def test_stage_keypoints_map_back_to_the_source_exactly(openpose_clip, workspace):
    """Imported keypoints (source pixels) -> analysis pixels -> canonical pixels -> back."""
    video, folder, kp = openpose_clip(n=12, size=(320, 240))
    over = {
        "extract": {"analysis_size": 200},
        "keypoints": {**import_overrides(f"openpose:{folder}"), "cleanup": False},
        "crop": {"size": 96},
    }
    res = prepare_video(video, workspace, overrides=over, until="crop")
    store = VideoStore(workspace, res.video_id)
    canonical = store.read("keypoints")
    assert store.read("frames").shape == (12, 96, 96, 3)
    assert (canonical[..., :2] >= 0).all() and (canonical[..., :2] <= 96).all()
    back = canonical_to_source(canonical, store.meta("crop"))
    # Exact up to float32 storage and the 4 decimals OpenPose files keep.
    np.testing.assert_allclose(back[..., :2], kp[..., :2], rtol=0, atol=3e-4)
