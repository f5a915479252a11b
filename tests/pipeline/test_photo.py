"""One image in: a photo (PNG/JPEG, or a video of one frame) prepares as a single-frame
video through every stage; bad photos get one-line errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ptx.body.synth import SynthConfig, synth_subject
from ptx.cache.store import VideoStore
from ptx.errors import QualityError
from ptx.io.testclips import write_clip
from ptx.pipeline.quality import check_quality
from ptx.pipeline.runner import prepare_video
from tests.cli.test_prepare_errors import assert_one_line_error


@pytest.fixture(scope="module")
def people():
    """Two synthetic people at 128 px (frame 0 of each)."""
    a = synth_subject(SynthConfig("dance", frames=2, size=128, seed=1)).frames[0]
    b = synth_subject(SynthConfig("wave", frames=2, size=128, seed=2)).frames[0]
    return a, b


def _write(path, rgb):
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]))
    return path


@pytest.mark.slow
def test_a_photo_prepares_through_every_stage(people, workspace, tmp_path):
    photo = _write(tmp_path / "me.jpg", people[0])
    res = prepare_video(photo, workspace, None, {"crop": {"size": 64}})
    assert res.subject == "me"  # named after the photo
    store = VideoStore(workspace, res.video_id)
    assert [o.status for o in res.outcomes] == ["ran"] * len(res.outcomes)
    for name in ("frames", "keypoints", "mask", "iuv", "label3d", "body/pose", "flow"):
        assert store.open_array(name).shape[0] == 1, name
    assert store.meta("keypoints")["detection_rate"] == 1.0
    frame, mask, iuv = store.read("frames")[0], store.read("mask")[0], store.read("iuv")[0]
    person = mask > 127
    assert 0.05 < person.mean() < 0.6
    body = iuv[..., 0] > 0  # the body fitted from one frame covers the person
    assert (body & person).sum() > 0.7 * body.sum()
    assert frame[person].std() > 10  # a picture, not an empty frame
    # the background behind the person is an estimate, and says so
    bg = res.outcomes[-2]
    assert bg.stage == "background" and "One picture" in " ".join(bg.warnings)
    # preparing the same photo again reuses everything
    again = prepare_video(photo, workspace, None, {"crop": {"size": 64}})
    assert again.video_id == res.video_id
    assert {o.status for o in again.outcomes} == {"cached"}


def test_a_video_of_one_frame_is_a_photo(cli, tmp_path):
    path = write_clip(tmp_path / "still.mp4", frames=1)
    res = cli("prepare", path, "--until", "extract")
    assert res.code == 0, res.err


def test_two_people_in_a_photo(cli, people, tmp_path):
    photo = _write(tmp_path / "two.png", np.concatenate(people, axis=1))
    res = cli("prepare", photo, "--until", "keypoints")
    assert_one_line_error(res, 5, "two.png shows 2 people", "Crop the photo")


def test_no_person_in_a_photo(cli, tmp_path):
    noise = (np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8)
    res = cli("prepare", _write(tmp_path / "wall.png", noise), "--until", "keypoints")
    assert_one_line_error(res, 5, "No person found in wall.png")


@pytest.mark.parametrize(
    "name,content,says",
    [
        ("notes.jpg", b"this is not a picture\n" * 40, "is not a readable image"),
        ("empty.png", b"", "is not a readable image"),
        ("missing.png", None, "No such file"),
    ],
)
def test_not_an_image(cli, tmp_path, name, content, says):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    assert_one_line_error(cli("prepare", path), 2, says)
    assert not (tmp_path / "ws" / "videos").exists()


def test_a_tiny_picture(cli, people, tmp_path):
    res = cli("prepare", _write(tmp_path / "thumb.png", people[0][:20, :24]))
    assert_one_line_error(res, 2, "thumb.png is 24x20 pixels, too small")


def test_a_person_too_small_in_a_photo():
    kp = np.zeros((1, 25, 3), np.float32)
    kp[0, :, 1] = np.linspace(300, 340, 25)  # 40 px tall in a 480 px picture
    kp[0, :, 2] = 1.0
    ok = np.ones(1, bool)
    with pytest.raises(QualityError, match="too small: 40 of the picture's 480"):
        check_quality("p.png", ok, np.array([1], np.uint8), kp, 640, 480)
    kp[0, :, 1] = np.linspace(100, 400, 25)  # 300 px: fine
    assert check_quality("p.png", ok, np.array([1], np.uint8), kp, 640, 480) == []
    # a video's frames are not held to it
    video = np.repeat(kp, 2, 0)
    video[:, :, 1] = np.linspace(300, 340, 25)
    assert check_quality("v.mp4", np.ones(2, bool), np.ones(2, np.uint8), video, 640, 480) == []
