"""Frame shapes that keep an aspect, and where the picture is in a canonical frame."""

from __future__ import annotations

import numpy as np
import pytest

from ptx.cache.frame import CanonicalFrame, frame_from_meta, frame_shape, round_to


def test_round_to_nearest_multiple_never_below_one():
    assert round_to(36, 8) == 40 and round_to(35.9, 8) == 32 and round_to(3, 8) == 8
    assert round_to(288, 32) == 288 and round_to(319.8, 32) == 320


@pytest.mark.parametrize(
    ("aspect", "long_side", "multiple", "want"),
    [
        ((512, 288), 64, 8, (64, 40)),  # 36 -> 40
        ((512, 288), 80, 8, (80, 48)),  # 45 -> 48
        ((288, 512), 80, 8, (48, 80)),  # landscape: the same, turned
        ((512, 512), 100, 32, (100, 100)),  # square: exactly the long side, any value
        ((1920, 1080), 512, 32, (512, 288)),
        ((10, 1000), 64, 8, (8, 64)),  # never below one multiple
    ],
)
def test_frame_shape(aspect, long_side, multiple, want):
    assert frame_shape(aspect, long_side, multiple) == want


def test_content_box_gives_padding_and_picture():
    frame = CanonicalFrame(512, 288, (0.0, 32.0, 288.0, 480.0))  # bars above and below
    assert frame.padded_fraction == pytest.approx(64 / 512)
    assert frame.padded() and frame.picture_box() == (0, 32, 288, 480)
    assert frame.picture_box((64, 36)) == (0, 4, 36, 60)  # scaled to a model's frame
    mask = frame.picture_mask((64, 36))
    assert mask.shape == (64, 36) and mask.sum() == 36 * 56
    assert not mask[:4].any() and mask[4:60].all() and not mask[60:].any()


def test_old_records_read_as_square_without_padding():
    frame = frame_from_meta({"size": 256, "box_side": 300}, (256, 256))
    assert frame.shape == (256, 256) and frame.padded_fraction == 0.0
    assert not frame.padded() and frame.picture_mask().all()
    with_box = frame_from_meta({"content_box": [10.2, 0, 245.9, 256]}, (256, 256))
    assert with_box.picture_box() == (10, 0, 246, 256)
    assert np.isclose(with_box.padded_fraction, 1 - 235.7 / 256)
