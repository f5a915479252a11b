"""The crop: one rectangle around the whole range of motion (the clip's aspect, or a
square); exact mapping back to the source."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptx.cache.frame import canonical_frame
from ptx.cache.store import VideoStore
from ptx.errors import InputError
from ptx.pipeline.crop import (
    CropBox,
    CropConfig,
    CropStage,
    candidate_shapes,
    canonical_shape,
    canonical_to_source,
    choose_box,
    choose_frame,
    crop_frame,
)
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.runner import prepare_video


def _inside(box: CropBox, xy: np.ndarray, slack: float = 0.0) -> bool:
    x, y = xy[..., 0], xy[..., 1]
    x0, y0 = box.x0 - slack, box.y0 - slack
    x1, y1 = box.x0 + box.width + slack, box.y0 + box.height + slack
    return bool(((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)).all())


def _random_motion(rng, w: int, h: int) -> np.ndarray:
    n = rng.integers(2, 30)
    centre = rng.uniform(0, 1, 2) * (w, h)
    spread = rng.uniform(5, 0.6 * min(w, h), 2)
    return np.concatenate(
        [
            np.clip(centre + rng.normal(0, 1, (n, 25, 2)) * spread, 0, (w, h)),
            rng.uniform(0.1, 1, (n, 25, 1)),
        ],
        -1,
    )


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("size", [(640, 360), (360, 640), (300, 300)])
def test_box_contains_every_keypoint_of_every_frame(margin, size):
    w, h = size
    rng = np.random.default_rng(7)
    for _ in range(20):
        kp = _random_motion(rng, w, h)
        box = choose_box(kp, w, h, 256, margin)
        assert box.width == box.height
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


@pytest.mark.parametrize(
    ("source", "size", "aspect", "want"),
    [
        ((1080, 1920), 512, "auto", (512, 288)),  # portrait phone video: 9:16
        ((1920, 1080), 512, "auto", (288, 512)),  # the landscape one: the symmetric shape
        ((692, 1108), 512, "auto", (512, 320)),
        ((640, 480), 256, "auto", (192, 256)),
        ((300, 300), 100, "auto", (100, 100)),  # square clips keep any size
        ((1080, 1920), 512, "square", (512, 512)),
        ((1920, 1080), 512, "9:16", (512, 288)),
    ],
)
def test_canonical_shape_follows_the_clip(source, size, aspect, want):
    cfg = CropConfig(size=size, aspect=aspect)
    h, w = canonical_shape(cfg, *source)
    assert (h, w) == want
    if h != w:
        assert h % 32 == 0 and w % 32 == 0 and max(h, w) == size


def test_between_two_multiples_the_crop_keeps_the_one_that_pads_less():
    """9:16 at --size 256: 144 lies between 128 and 160. A dancer spanning the whole height
    of a 288x512 clip fits a 256 x 128 frame inside the picture, while 256 x 160 (the nearer)
    would need a rectangle wider than the picture; a small one fits both and gets the
    nearer."""
    cfg = CropConfig(size=256)
    assert candidate_shapes(cfg, 288, 512) == [(256, 160), (256, 128)]
    assert candidate_shapes(cfg, 1080, 1920) == [(256, 160), (256, 128)]
    assert candidate_shapes(CropConfig(size=512), 1080, 1920) == [(512, 288)]
    assert candidate_shapes(CropConfig(size=100), 300, 300) == [(100, 100)]
    tall = np.zeros((2, 25, 3))
    tall[..., 2] = 1.0
    tall[0, :, :2], tall[1, :, :2] = (120.0, 5.0), (170.0, 505.0)
    box = choose_frame(tall, 288, 512, cfg)
    assert box.shape == (256, 128) and box.content(288, 512).padded_fraction == 0.0
    small = tall.copy()
    small[1, :, :2] = (170.0, 300.0)
    assert choose_frame(small, 288, 512, cfg).shape == (256, 160)


def test_a_rectangle_needs_a_long_side_that_is_a_multiple():
    with pytest.raises(InputError, match="--size 500 is not a multiple of 32"):
        canonical_shape(CropConfig(size=500), 1080, 1920)
    with pytest.raises(InputError, match="--aspect 'wide'"):
        CropStage.check(CropConfig(aspect="wide"))
    with pytest.raises(InputError, match="not a multiple"):
        CropStage.check(CropConfig(size=500, aspect="9:16"))
    assert canonical_shape(CropConfig(size=500, aspect="square"), 1080, 1920) == (500, 500)


@pytest.mark.parametrize("margin", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (692, 1108)])
def test_rectangle_has_the_frames_aspect_and_stays_in_the_picture(margin, size):
    """The rectangle scales to the frame by one factor; it holds the whole range of motion
    and lies inside the picture (no padding) whenever that range fits in it."""
    w, h = size
    shape = canonical_shape(CropConfig(size=512), w, h)
    rng = np.random.default_rng(11)
    for _ in range(30):
        kp = _random_motion(rng, w, h)
        box = choose_box(kp, w, h, shape, margin)
        assert box.width * shape[0] == box.height * shape[1]  # one scale in x and y
        assert box.shape == shape
        # at most one step of the aspect's rounding is cut at the picture's edge
        step = max(shape) // math.gcd(*shape)
        assert _inside(box, kp[..., :2], slack=step)
        assert box.x0 >= 0 and box.y0 >= 0
        assert box.x0 + box.width <= w and box.y0 + box.height <= h
        assert box.content(w, h).padded_fraction == 0.0


def test_rectangle_pads_only_where_the_motion_leaves_the_picture():
    """A portrait frame forced onto a person crossing a wide picture: the motion is wider
    than the tallest 9:16 rectangle inside the picture, so the rectangle grows (up to
    covering the picture) and is padded above and below, and the record says how much."""
    kp = np.zeros((2, 25, 3))
    kp[0, :, :2], kp[1, :, :2] = (20.0, 100.0), (620.0, 150.0)
    kp[..., 2] = 1.0
    box = choose_box(kp, 640, 360, (512, 288), margin=0.1)
    assert box.x0 <= 20 and box.x0 + box.width >= 620
    assert box.y0 < 0 and box.y0 + box.height > 360  # padded above and below
    frame = box.content(640, 360)
    assert 0.0 < frame.padded_fraction < 1.0
    inside = frame.picture_mask()
    assert inside.shape == (512, 288) and not inside[0].any() and inside[256, 4:-4].all()


def test_margin_shrinks_rather_than_pad():
    """A person spanning the whole height of a portrait clip: with the margin the rectangle
    would not fit, but the motion itself does, so the largest rectangle inside the picture is
    used and nothing is padded."""
    kp = np.zeros((3, 25, 3))
    kp[:, :, 2] = 1.0
    kp[:, :12, :2] = (500.0, 10.0)
    kp[:, 12:, :2] = (600.0, 1900.0)
    box = choose_box(kp, 1080, 1920, (512, 288), margin=0.1)
    assert (box.width, box.height) == (1080, 1920)
    assert (box.x0, box.y0) == (0, 0)


def test_mapping_round_trip_is_exact():
    box = CropBox.square(x0=-37, y0=113, side=917, size=512)
    rng = np.random.default_rng(3)
    pts = np.concatenate([rng.uniform(-50, 1500, (100, 2)), rng.uniform(0.01, 1, (100, 1))], 1)
    np.testing.assert_allclose(box.to_source(box.to_canonical(pts)), pts, rtol=0, atol=1e-9)
    pts[5] = 0.0
    assert (box.to_canonical(pts)[5] == 0).all()  # a missing joint stays missing
    tall = CropBox(x0=40, y0=-12, width=675, height=1200, out_width=288, out_height=512)
    np.testing.assert_allclose(tall.to_source(tall.to_canonical(pts)), pts, rtol=0, atol=1e-9)
    corner = tall.to_canonical(np.array([[40 + 675.0, -12 + 1200.0]]))
    np.testing.assert_allclose(corner, [[288.0, 512.0]])


def test_crop_frame_puts_source_pixels_where_the_box_says():
    src = np.zeros((100, 160, 3), np.uint8)
    src[40, 70] = (255, 0, 0)
    box = CropBox.square(x0=-10, y0=20, side=90, size=90)  # no resizing: pixels move exactly
    out = crop_frame(src, box)
    assert out.shape == (90, 90, 3)
    (y, x) = np.argwhere(out[..., 0] == 255)[0]
    np.testing.assert_allclose(box.to_source(np.array([x + 0.5, y + 0.5])), (70.5, 40.5))
    assert not out[:, :10].any()  # left of the picture: padding
    rect = CropBox(x0=60, y0=-10, width=40, height=70, out_width=40, out_height=70)
    out = crop_frame(src, rect)
    assert out.shape == (70, 40, 3)
    (y, x) = np.argwhere(out[..., 0] == 255)[0]
    np.testing.assert_allclose(rect.to_source(np.array([x + 0.5, y + 0.5])), (70.5, 40.5))
    assert not out[:10].any()  # above the picture: padding


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
    assert store.read("frames").shape == (12, 64, 96, 3)  # 4:3 -> 96 x 72 -> 96 x 64
    assert (canonical[..., :2] >= 0).all()
    assert (canonical[..., 0] <= 96).all() and (canonical[..., 1] <= 64).all()
    back = canonical_to_source(canonical, store.meta("crop"))
    # Exact up to float32 storage and the 4 decimals OpenPose files keep.
    np.testing.assert_allclose(back[..., :2], kp[..., :2], rtol=0, atol=3e-4)


def test_a_portrait_clip_gets_a_portrait_frame(openpose_clip, workspace):
    """A 180x320 portrait clip at --size 128: frames are 128 x 64 (H x W, the nearest
    multiples of 32 to 9:16), inside the picture (no padding), and the keypoints map back
    exactly; --aspect square keeps the square crop, padded on both sides."""
    video, folder, kp = openpose_clip(n=12, size=(180, 320), name="tall")
    over = {
        "keypoints": {**import_overrides(f"openpose:{folder}"), "cleanup": False},
        "crop": {"size": 128},
    }
    res = prepare_video(video, workspace, overrides=over, until="crop")
    store = VideoStore(workspace, res.video_id)
    assert store.read("frames").shape == (12, 128, 64, 3)
    meta = store.meta("crop")
    assert (meta["height"], meta["width"], meta["size"]) == (128, 64, 128)
    assert meta["box_width"] * 128 == meta["box_height"] * 64
    assert meta["padded_fraction"] == 0.0 and canonical_frame(store).padded_fraction == 0.0
    back = canonical_to_source(store.read("keypoints"), meta)
    np.testing.assert_allclose(back[..., :2], kp[..., :2], rtol=0, atol=3e-4)
    over["crop"]["aspect"] = "square"
    res = prepare_video(video, workspace, "sq", overrides=over, until="crop")
    square = VideoStore(workspace, res.video_id)
    assert square.read("frames").shape == (12, 128, 128, 3)
    assert canonical_frame(square).padded_fraction > 0.15  # the bars this issue removes
