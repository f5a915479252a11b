"""The report pictures: layout of the strip, and a readable PSNR plot."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ptx.errors import InputError
from ptx.metrics.report import ERROR_FULL_SCALE, challenging_strip, error_map, psnr_plot


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_strip_has_truth_output_error_per_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    output = truth.copy()
    output[1] = 255 - output[1]
    path = challenging_strip(truth, output, tmp_path / "report" / "strip.png", tile=32)
    img = _read_rgb(path)
    assert img.shape == (3 * 32, 3 * 32, 3)
    np.testing.assert_array_equal(img[:32, :32], truth[0])
    np.testing.assert_array_equal(img[32:64, 32:64], output[1])
    # error map: black where output equals truth, bright where it differs
    assert img[:32, 64:].max() < 10
    assert img[32:64, 64:].mean() > 100


def test_error_map_saturates_at_full_scale() -> None:
    a = np.zeros((4, 4, 3), dtype=np.uint8)
    b = np.full((4, 4, 3), int(ERROR_FULL_SCALE), dtype=np.uint8)
    c = np.full((4, 4, 3), 255, dtype=np.uint8)
    np.testing.assert_array_equal(error_map(b, a), error_map(c, a))
    assert error_map(a, a).max() < 10


def test_strip_labels_and_bad_input(tmp_path: Path) -> None:
    truth = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    path = challenging_strip(
        truth, truth, tmp_path / "s.png", labels=["frame 1", "frame 2"], tile=64
    )
    img = _read_rgb(path)
    assert img[:20, :64].max() > 200 and img[:20, 64:128].max() == 0  # text on truth tile only
    with pytest.raises(InputError, match="one per frame"):
        challenging_strip(truth, truth, tmp_path / "s.png", labels=["x"])
    with pytest.raises(InputError, match="must match"):
        challenging_strip(truth, truth[:, :32], tmp_path / "s.png")


def test_psnr_plot_writes_a_png(tmp_path: Path) -> None:
    psnr = 30 + np.sin(np.arange(50) / 5)
    psnr[7] = np.nan
    path = psnr_plot(psnr, tmp_path / "psnr.png", frames=np.arange(100, 150), highlight=[3, 9])
    img = _read_rgb(path)
    assert img.shape == (300, 800, 3)
    assert (img != 255).any(axis=2).mean() > 0.02  # something was drawn
    with pytest.raises(InputError, match="must match"):
        psnr_plot(psnr, tmp_path / "p.png", frames=np.arange(3))
