"""Frame folders and %d patterns: in frame order, encoded losslessly, same size enforced."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ptx.errors import InputError
from ptx.io.frames import encode_frames, frame_files, frames_digest, is_frame_source
from ptx.io.testclips import pattern_frame
from ptx.io.video import FrameDecoder, probe_video


def _write(folder, names, w=33, h=21):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), cv2.cvtColor(pattern_frame(i, w, h), cv2.COLOR_RGB2BGR))


def test_frames_are_ordered_by_their_numbers_and_decode_exactly(tmp_path):
    names = ["f_9.png", "f_10.png", "f_11.png", "f_100.png"]  # not in text order
    _write(tmp_path / "seq", names)
    (tmp_path / "seq" / "notes.txt").write_text("ignored")
    files = frame_files(tmp_path / "seq")
    assert [p.name for p in files] == names
    assert is_frame_source(tmp_path / "seq") and is_frame_source(tmp_path / "seq" / "f_%d.png")
    assert [p.name for p in frame_files(tmp_path / "seq" / "f_%d.png")] == names
    out = encode_frames(files, tmp_path / "seq.mkv", 12.0)
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count, info.fps) == (33, 21, 4, 12.0)
    got = list(FrameDecoder(info, info.fps).frames(0, 4))
    assert all(np.array_equal(g, pattern_frame(i, 33, 21)) for i, g in enumerate(got))
    assert frames_digest(files, 12.0) != frames_digest(files, 25.0)


def test_padded_patterns_and_bad_sequences(tmp_path):
    _write(tmp_path / "p", ["00001.png", "00002.png", "0003.png"])
    assert [p.name for p in frame_files(tmp_path / "p" / "%05d.png")] == ["00001.png", "00002.png"]
    with pytest.raises(InputError, match="No PNG or JPEG frames"):
        frame_files(tmp_path / "p" / "x_%05d.png")
    _write(tmp_path / "mixed", ["1.png"], 20, 10)
    _write(tmp_path / "mixed2", ["2.png"], 22, 10)
    (tmp_path / "mixed" / "2.png").write_bytes((tmp_path / "mixed2" / "2.png").read_bytes())
    with pytest.raises(InputError, match="must have one size"):
        encode_frames(frame_files(tmp_path / "mixed"), tmp_path / "m.mkv", 25.0)
