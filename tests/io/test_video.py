"""Decoding: exact frame counts, lossless pixels, rotation, variable rate, ranges, seeking."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io.testclips import pattern_frame, write_audio_only
from ptx.io.video import FrameDecoder, fit_long_side, frame_count_for, probe_video


def decode_all(path, fps=None, start=0.0, end=None, size=None):
    info = probe_video(path)
    fps = fps or info.fps
    n = frame_count_for(info, fps, start, end)
    return info, list(FrameDecoder(info, fps, start, size).frames(0, n))


def test_lossless_clip_decodes_to_exact_frames(clip):
    path = clip(frames=37, width=64, height=48, fps=25)
    info, frames = decode_all(path)
    assert (info.width, info.height, info.fps, info.frame_count) == (64, 48, 25.0, 37)
    assert len(frames) == 37
    for i, img in enumerate(frames):
        assert np.array_equal(img, pattern_frame(i, 64, 48)), f"frame {i} differs"


def test_lossy_clip_has_small_pixel_error(clip):
    path = clip(frames=12, width=96, height=64, lossless=False)
    _, frames = decode_all(path)
    assert len(frames) == 12
    err = np.mean(
        [np.abs(f.astype(int) - pattern_frame(i, 96, 64)).mean() for i, f in enumerate(frames)]
    )
    assert err < 6.0


@pytest.mark.parametrize("rotation,k", [(90, 1), (180, 2), (270, 3)])
def test_rotation_metadata_is_applied(clip, rotation, k):
    path = clip(frames=4, width=64, height=48, rotation=rotation)
    info, frames = decode_all(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((48, 64) if k % 2 else (64, 48))
    assert np.array_equal(frames[2], np.rot90(pattern_frame(2, 64, 48), k))


def test_variable_rate_becomes_constant_rate(clip):
    times = [0.0, 0.04, 0.1, 0.12, 0.2, 0.3, 0.31, 0.4, 0.5, 0.6]
    path = clip(frames=10, times=times)
    info, frames = decode_all(path, fps=25)
    assert len(frames) == frame_count_for(info, 25, 0, None)
    for i, img in enumerate(frames):
        t = i / 25
        # the source frame on screen at t (half an output period of tolerance)
        src = max(j for j, tj in enumerate(times) if tj <= t + 0.5 / 25 + 1e-9)
        assert np.array_equal(img, pattern_frame(src, 64, 48)), f"output {i} should be src {src}"


def test_range_and_downscale(clip):
    path = clip(frames=50, width=64, height=48, fps=25)
    _, frames = decode_all(path, start=0.4, end=1.2)
    assert len(frames) == 20
    assert np.array_equal(frames[0], pattern_frame(10, 64, 48))
    w, h = fit_long_side(64, 48, 32)
    _, small = decode_all(path, size=(w, h))
    assert small[0].shape == (24, 32, 3)


def test_decoding_from_the_middle_matches_decoding_from_the_start(clip):
    # keyframe every 10 frames so that a seek really happens
    path = clip(frames=90, width=64, height=48, fps=25)
    info = probe_video(path)
    full = list(FrameDecoder(info, 25).frames(0, 90))
    tail = list(FrameDecoder(info, 25).frames(60, 30))
    assert len(tail) == 30
    assert all(np.array_equal(a, b) for a, b in zip(tail, full[60:], strict=True))


def test_probe_describes_audio(clip, tmp_path):
    assert probe_video(clip("a.mp4", frames=5, audio=True)).has_audio
    assert not probe_video(clip("b.mp4", frames=5)).has_audio
    with pytest.raises(InputError, match="no video stream"):
        probe_video(write_audio_only(tmp_path / "tone.m4a"))


@pytest.mark.parametrize("fps,first,size", [(25, 0, None), (17, 30, (48, 36)), (40, 61, None)])
def test_conversion_threads_give_the_arrays_of_one_thread(clip, fps, first, size):
    """Frames converted on worker threads while the next ones decode: the same arrays in the
    same order as converting each in the decoding thread, with frames dropped (17 fps),
    repeated (40 fps), scaled, after a seek, and a consumer that stops early."""
    path = clip(frames=90, width=64, height=48, fps=25, lossless=False)
    info = probe_video(path)
    n = frame_count_for(info, fps, 0.0, None) - first
    one = [f.copy() for f in FrameDecoder(info, fps, 0.0, size, workers=1).frames(first, n)]
    many = [f.copy() for f in FrameDecoder(info, fps, 0.0, size, workers=3).frames(first, n)]
    assert len(one) == len(many) == n > 10
    assert all(np.array_equal(a, b) for a, b in zip(one, many))
    assert not all(np.array_equal(one[0], f) for f in one)  # they really differ in time
    gen = FrameDecoder(info, fps, 0.0, size, workers=2).frames(first, n)
    head = [next(gen).copy() for _ in range(5)]
    gen.close()  # stops early: no thread left running, nothing raised
    assert all(np.array_equal(a, b) for a, b in zip(head, one[:5]))


@pytest.mark.parametrize("region,size", [((8, 4, 40, 40), (24, 24)), ((0, 0, 32, 16), (64, 32))])
def test_a_region_is_cut_and_scaled_like_the_frame_cropped_and_resized(clip, region, size):
    """FFmpeg's one-pass cut and scale gives the region of the upright RGB frame, resized
    (shrunk with an area filter, enlarged bicubic): within a level of OpenCV's resize
    of the cropped frame, the same on any number of threads, the same frames in time."""
    import cv2

    path = clip(frames=12, width=64, height=48, lossless=True)
    info = probe_video(path)
    x0, y0, w, h = region
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
    want = [cv2.resize(pattern_frame(i, 64, 48)[y0 : y0 + h, x0 : x0 + w], size,
                       interpolation=interp) for i in range(12)]  # fmt: skip
    for workers in (1, 3):
        got = list(FrameDecoder(info, 25, 0.0, size, workers, region=region).frames(0, 12))
        assert len(got) == 12 and got[0].shape == (size[1], size[0], 3)
        errors = [np.abs(g.astype(int) - w_).mean() for g, w_ in zip(got, want)]
        assert max(errors) < 1.0, errors  # a region one pixel off: 2.5
    other = FrameDecoder(info, 25, 0.0, size, region=region).frames(0, 12)
    assert all(np.array_equal(a, b) for a, b in zip(got, other))


def test_a_region_outside_the_picture_or_of_a_turned_picture_is_refused(clip):
    info = probe_video(clip(frames=2, width=64, height=48))
    with pytest.raises(ValueError, match="not inside"):
        FrameDecoder(info, 25, 0.0, (16, 16), region=(40, 0, 32, 32))
    turned = probe_video(clip(name="r.mp4", frames=2, width=64, height=48, rotation=90))
    with pytest.raises(ValueError, match="not inside"):
        FrameDecoder(turned, 25, 0.0, (16, 16), region=(0, 0, 16, 16))
