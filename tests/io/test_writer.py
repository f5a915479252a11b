"""Result videos: frame count, rate, size, audio, alpha, atomic output, bad paths."""

from __future__ import annotations

import av
import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io.testclips import pattern_frame
from ptx.io.video import FrameDecoder, probe_video
from ptx.io.writer import VideoWriter, side_by_side


def write(path, n=30, fps=25, size=(64, 48), **kw):
    with VideoWriter(path, fps, size, **kw) as w:
        for i in range(n):
            w.write(pattern_frame(i, *size) if not kw.get("alpha") else _rgba(i, size))
    return path


def _rgba(i, size):
    img = pattern_frame(i, *size)
    a = np.zeros(img.shape[:2] + (1,), np.uint8)
    a[:, : size[0] // 2] = 255
    return np.concatenate([img, a], -1)


def test_h264_output_has_frame_count_rate_size(tmp_path):
    path = write(tmp_path / "out.mp4", n=30, fps=30, size=(66, 50))
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.frame_count) == (66, 50, 30.0, 30)
    frames = list(FrameDecoder(info, info.fps).frames(0, 30))
    assert len(frames) == 30
    err = np.abs(frames[7].astype(int) - pattern_frame(7, 66, 50)).mean()
    assert err < 8
    assert not info.has_audio
    assert not list(tmp_path.glob(".*partial*"))


def test_audio_is_copied_from_the_source(clip, tmp_path):
    src = clip("with audio.mp4", frames=50, audio=True)
    out = write(tmp_path / "out.mp4", n=25, fps=25, audio_from=src, audio_start=0.5)
    info = probe_video(out)
    assert info.has_audio
    with av.open(str(out)) as c:
        audio = c.streams.audio[0]
        dur = sum(p.duration or 0 for p in c.demux(audio)) * float(audio.time_base)
    assert 0.8 < dur < 1.2  # one second of audio for one second of video


def test_alpha_mov_and_png_sequence(tmp_path):
    mov = write(tmp_path / "alpha.mov", n=5, alpha=True)
    with av.open(str(mov)) as c:
        f = next(c.decode(video=0)).to_ndarray(format="rgba")
    assert f[10, 5, 3] == 255 and f[10, 60, 3] == 0
    seq = write(tmp_path / "alpha_frames", n=4, alpha=True)
    assert sorted(p.name for p in seq.iterdir()) == [f"{i:06d}.png" for i in range(4)]


def test_bad_output_paths(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        VideoWriter(tmp_path / "missing" / "out.mp4", 25, (64, 48))
    with pytest.raises(InputError, match="cannot carry alpha"):
        VideoWriter(tmp_path / "out.mp4", 25, (64, 48), alpha=True)


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), VideoWriter(path, 25, (64, 48)) as w:
        w.write(pattern_frame(0, 64, 48))
        raise RuntimeError("renderer crashed")
    assert not path.exists() and not list(tmp_path.iterdir())


def test_side_by_side_matches_heights():
    a = np.zeros((100, 50, 3), np.uint8)
    b = np.full((50, 40, 3), 255, np.uint8)
    out = side_by_side(a, b)
    assert out.shape == (50, 65, 3)
    assert out[:, 25:].min() == 255 and out[:, :25].max() == 0
