"""`ptx synth`: writes a video and its ground truth, the same for the same seed."""

from __future__ import annotations

import av
import numpy as np

from ptx.body.synth import load_ground_truth


def _frames(video) -> np.ndarray:
    with av.open(str(video)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def test_synth_writes_the_video_and_its_ground_truth_deterministically(cli, tmp_path):
    args = ("--motion", "walk", "--frames", "8", "--size", "48", "--seed", "3", "--fps", "20")
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    res = cli("synth", a, *args)
    assert res.code == 0, res.err
    out = res.out.replace("\n", "")
    assert "a.mp4" in out and f"openpose:{tmp_path / 'a_gt' / 'openpose'}" in out
    assert cli("synth", b, *args).code == 0
    assert len(list((tmp_path / "a_gt" / "openpose").glob("*_keypoints.json"))) == 8
    ga, gb = load_ground_truth(a), load_ground_truth(b)
    for key in ("frames", "keypoints", "mask", "iuv", "label3d", "pose", "betas", "background"):
        assert np.array_equal(ga[key], gb[key]), key
    # The ground truth above is bit-identical. The H.264 encodes are not always: twice in
    # full runs on a loaded 2-core machine the two videos decoded a few levels apart in
    # places (x264 runs single-threaded; the cause is not found). So the videos must show
    # the ground-truth frames (lossy, but close) and each other to within encoding noise.
    fa, fb = _frames(a), _frames(b)
    assert fa.shape == fb.shape == (8, 48, 48, 3)
    assert np.abs(fa.astype(int) - fb).mean() < 1.0
    mse = np.mean((fa.astype(float) - ga["frames"]) ** 2)
    # the video is the ground truth's frames (31.4 dB; another seed's video: 15.8)
    assert 10 * np.log10(255**2 / mse) > 28
    with av.open(str(a)) as c:
        assert float(c.streams.video[0].average_rate) == 20
    assert ga["meta"]["motion"] == "walk" and ga["mask"].any()


def test_synth_refuses_bad_options_in_one_line(cli, tmp_path):
    res = cli("synth", tmp_path / "x.mp4", "--size", "33")
    assert res.code == 2 and "--size 33 must be even" in res.err
    res = cli("synth", tmp_path / "x.mp4", "--motion", "fly")
    assert res.code == 2 and "Unknown motion 'fly'" in res.err
    res = cli("synth", tmp_path / "missing" / "x.mp4", "--frames", "2", "--size", "32")
    assert res.code == 2 and "does not exist" in res.err


def test_synth_makes_portrait_and_landscape_clips(cli, tmp_path):
    """--width/--height: the frames, masks and labels have that shape, the camera is
    centred in it with its focal length from the height (the person keeps its size), and
    the ground-truth keypoints are pixels of that frame."""
    tall = tmp_path / "tall.mp4"
    res = cli("synth", tall, "--frames", "4", "--width", "36", "--height", "64", "--seed", "2")
    assert res.code == 0, res.err
    assert "36x64" in res.out
    gt = load_ground_truth(tall)
    assert _frames(tall).shape == (4, 64, 36, 3)
    assert gt["frames"].shape == (4, 64, 36, 3) and gt["iuv"].shape == (4, 64, 36, 3)
    assert gt["mask"].shape == (4, 64, 36) and gt["background"].shape == (64, 36, 3)
    np.testing.assert_allclose(gt["camera"], [0.9 * 64, 18, 32])
    seen = gt["keypoints"][..., 2] > 0
    assert seen.any() and (gt["keypoints"][..., 0][seen] < 36).all()
    rows = np.flatnonzero(gt["mask"][0].any(1))
    assert rows[-1] - rows[0] > 0.5 * 64  # a standing person, most of the height
    wide = tmp_path / "wide.mp4"
    assert cli("synth", wide, "--frames", "2", "--width", "64", "--height", "36").code == 0
    assert _frames(wide).shape == (2, 36, 64, 3)
    res = cli("synth", tmp_path / "x.mp4", "--width", "35")
    assert res.code == 2 and "--width 35 must be even" in res.err


def test_one_person_a_new_motion_and_a_crowd_doing_one_motion(cli, tmp_path):
    """--motion-seed changes the motion alone; --people makes different people performing
    the identical motion (the ground truth of cross-person transfer)."""
    common = ("--frames", "6", "--size", "48")
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    assert cli("synth", a, *common, "--seed", "4", "--motion-seed", "1").code == 0
    assert cli("synth", b, *common, "--seed", "4", "--motion-seed", "2").code == 0
    ga, gb = load_ground_truth(a), load_ground_truth(b)
    assert np.array_equal(ga["betas"], gb["betas"])  # the same person
    assert np.array_equal(ga["background"], gb["background"])
    assert not np.allclose(ga["pose"], gb["pose"])  # doing something else
    res = cli("synth", tmp_path / "crowd", *common, "--seed", "10", "--people", "3")
    assert res.code == 0, res.err
    people = sorted((tmp_path / "crowd").glob("person-*.mp4"))
    assert [p.name for p in people] == ["person-00.mp4", "person-01.mp4", "person-02.mp4"]
    gts = [load_ground_truth(p) for p in people]
    assert not np.array_equal(gts[0]["betas"], gts[1]["betas"])  # different people
    assert not np.array_equal(gts[0]["frames"], gts[1]["frames"])
    for g in gts[1:]:  # the identical motion: every joint rotation but the root's placement
        assert np.allclose(g["pose"][:, 1:], gts[0]["pose"][:, 1:])
    assert gts[2]["meta"]["seed"] == 12 and gts[2]["meta"]["motion_seed"] == 10
    bad = cli("synth", tmp_path / "x.mp4", *common, "--people", "2")
    assert bad.code == 2 and "not a folder" in bad.err


def test_without_a_motion_seed_subjects_are_what_they_were():
    """The motion drawn before --motion-seed existed (its digest from that version)."""
    import hashlib

    from ptx.body.synth import SynthConfig, synth_subject

    pose = synth_subject(SynthConfig("walk", frames=4, size=32, seed=5)).pose
    assert hashlib.sha256(pose.tobytes()).hexdigest() == (
        "5d75e4636c1154c51a021fbb74b49c9f6c2728b326b34831c306c88e56c0dc84"
    )
