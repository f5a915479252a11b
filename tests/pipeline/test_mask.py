"""The mask: covers the person, follows the crop's transform, falls back sensibly."""

from __future__ import annotations

import cv2
import numpy as np

from ptx.cache.store import VideoStore
from ptx.pipeline.crop import CropBox
from ptx.pipeline.keypoints import import_overrides
from ptx.pipeline.mask import analysis_to_canonical, guided_filter, refine_mask
from ptx.pipeline.runner import prepare_video

# Points on the astronaut in photo pixels: forehead, chin, chest badge, right sleeve.
ON_PERSON = np.array([[225.0, 80.0], [222.0, 185.0], [180.0, 380.0], [60.0, 380.0]])


def test_mask_covers_the_astronaut_and_not_the_grey_canvas(astronaut):
    store = astronaut.store
    mask = store.read("mask")
    box = CropBox.from_meta(store.meta("crop"))
    assert store.meta("mask")["method"] == "pose"
    h, w = mask.shape[1:3]
    assert (h, w) == box.shape and w > h  # the clip is landscape (288x240): so is the frame
    centres = np.stack(np.meshgrid(np.arange(w), np.arange(h)), -1) + 0.5
    src = box.to_source(centres)  # canonical pixel centres in source pixels
    checked = 0
    for t, place in enumerate(astronaut.placements):
        on = box.to_canonical(place.apply(ON_PERSON)).astype(int)
        assert (mask[t, on[:, 1], on[:, 0]] >= 200).all(), t
        photo = place.invert(src)
        grey = (photo[..., 0] > 530) | (photo[..., 1] > 530)  # canvas, off the photo
        if grey.sum() > 500:  # the photo grows to fill the crop in later frames
            assert mask[t][grey].mean() < 5, t
            checked += 1
    assert checked >= 5


def test_segmentation_lands_where_the_crop_maps_it():
    extract = {"width": 320, "height": 180, "source_width": 1280, "source_height": 720}
    crop = {"size": 256, "box_x0": 300, "box_y0": -40, "box_side": 700}
    seg = np.zeros((180, 320), np.float32)
    cv2.circle(seg, (150, 90), 6, 255.0, -1)  # centred on index (150, 90) = (150.5, 90.5)
    out = cv2.warpAffine(seg, analysis_to_canonical(extract, crop), (256, 256))
    ys, xs = np.nonzero(out)
    centre = np.array([np.average(xs, weights=out[ys, xs]), np.average(ys, weights=out[ys, xs])])
    box = CropBox.square(300, -40, 700, 256)
    want = box.to_canonical(np.array([150.5, 90.5]) * 4.0)
    np.testing.assert_allclose(centre + 0.5, want, atol=0.05)


def test_refinement_restores_edges_of_an_upsampled_mask():
    """A person-like shape whose mask was made at 1/8 resolution and upsampled: the
    refined mask is at least 3x closer to the true one (mean absolute error)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    truth = (((xx - 60) / 30.0) ** 2 + ((yy - 70) / 40.0) ** 2 < 1).astype(np.float32)
    truth[20:40, 55:65] = 1.0
    frame = np.empty((128, 128, 3), np.float32)
    frame[:] = (170, 180, 200)
    frame[truth > 0] = (120, 60, 40)
    frame = np.clip(frame + rng.normal(0, 6, frame.shape), 0, 255).astype(np.uint8)
    low = cv2.resize(truth, (16, 16), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(low, (128, 128), interpolation=cv2.INTER_LINEAR)
    refined = refine_mask(coarse, frame, radius=4)
    assert np.abs(refined - truth).mean() < np.abs(coarse - truth).mean() / 3


def test_the_guided_filter_gives_the_stacked_planes_values():
    """The filter's means, one box filter per plane, equal those of the planes stacked and
    filtered at once (the way masks were computed before; bit for bit here, and so were the
    real clip's masks; a tolerance of float32 rounding for other CPUs' code paths)."""
    rng = np.random.default_rng(1)
    guide = rng.random((90, 160), np.float32)
    src = cv2.GaussianBlur((rng.random((90, 160)) > 0.5).astype(np.float32), (0, 0), 3)
    box = (9, 9)
    means = cv2.boxFilter(np.dstack([guide, src, guide * src, guide * guide]), -1, box,
                          borderType=cv2.BORDER_REFLECT)  # fmt: skip
    m_g, m_p, m_gp, m_gg = (means[..., i] for i in range(4))
    a = (m_gp - m_g * m_p) / (m_gg - m_g * m_g + 1e-3)
    ab = cv2.boxFilter(np.dstack([a, m_p - a * m_g]), -1, box, borderType=cv2.BORDER_REFLECT)
    got, want = guided_filter(guide, src, 4, 1e-3), ab[..., 0] * guide + ab[..., 1]
    assert np.abs(got - want).max() <= 1e-6 and np.abs(want).max() > 0.5


def test_imported_keypoints_without_a_person_in_the_pixels_get_the_skeleton(
    openpose_clip, workspace
):
    """Imported keypoints bring no segmentation: the mask falls back frame by frame to
    the silhouette drawn from the keypoints when selfie segmentation finds nobody."""
    video, folder, _ = openpose_clip(n=6)
    over = {"keypoints": import_overrides(f"openpose:{folder}"), "crop": {"size": 128}}
    res = prepare_video(video, workspace, overrides=over, until="mask")
    store = VideoStore(workspace, res.video_id)
    meta = store.meta("mask")
    assert meta["method"] == "selfie" and meta["fallback_frames"] == 6
    mask, kp = store.read("mask"), store.read("keypoints")
    for t in range(6):
        for j in (1, 8, 10, 13):  # neck, mid-hip, knees
            x, y = kp[t, j, :2].astype(int)
            assert mask[t, y, x] >= 128
        assert (mask[t] >= 128).mean() < 0.35
