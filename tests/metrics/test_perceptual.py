"""LPIPS and FID: values when their weights are there, None with a reason when not."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from ptx import weights
from ptx.errors import InputError
from ptx.metrics import perceptual
from ptx.metrics.perceptual import fid_score, frechet_distance, lpips_score


def _frames(size: int = 16, n: int = 3) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _register(monkeypatch: pytest.MonkeyPatch, key: str, data: bytes | None, sha: str) -> None:
    entry = weights.WeightsFile(key, f"{key}.pth", f"https://example.org/{key}.pth", sha, "test")
    monkeypatch.setitem(weights.WEIGHTS, key, entry)
    if data is not None:
        folder = weights.weights_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / entry.filename).write_bytes(data)


def test_unknown_and_absent_weights_give_none_with_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(perceptual, "FID_KEYS", ("not_a_known_file",))
    fid = fid_score(_frames(), _frames())
    assert fid.value is None and "not_a_known_file" in fid.reason

    _register(monkeypatch, "alexnet", None, "0" * 64)
    _register(monkeypatch, "lpips_alex", None, "0" * 64)
    lp = lpips_score(_frames(), _frames())
    assert lp.value is None
    assert lp.reason.startswith("LPIPS unavailable") and "alexnet.pth" in lp.reason


def test_wrong_hash_and_present_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = b"weights"
    good = hashlib.sha256(data).hexdigest()
    _register(monkeypatch, "alexnet", data, "f" * 64)  # a file that is not the official one
    _register(monkeypatch, "lpips_alex", data, good)
    assert "not the official" in lpips_score(_frames(), _frames()).reason
    _register(monkeypatch, "alexnet", data, good)  # the right hash, but not a weights file
    lp = lpips_score(_frames(40), _frames(40))
    assert lp.value is None and "could not be read as a weights file" in lp.reason


@pytest.mark.usefixtures("perceptual_weights")
def test_lpips_per_frame_with_weights_present() -> None:
    truth = _frames(48, n=4)
    noisy = truth.astype(np.int16) + np.random.default_rng(1).normal(0, 1, truth.shape) * np.array(
        [0, 5, 20, 60]
    ).reshape(4, 1, 1, 1)
    output = np.clip(noisy, 0, 255).astype(np.uint8)
    lp = lpips_score(output, truth)
    assert lp.reason is None and lp.per_frame.shape == (4,)
    assert lp.per_frame[0] == 0.0 and np.all(np.diff(lp.per_frame) > 0)
    assert lp.value == pytest.approx(lp.per_frame.mean())
    small = lpips_score(_frames(16), _frames(16))
    assert small.value is None and "smaller than AlexNet's 32x32 minimum" in small.reason
    assert "no frames to compare" in lpips_score(truth[:0], truth[:0]).reason
    with pytest.raises(InputError, match="differ in frame count: 4 and 3"):
        lpips_score(output, truth[:3])


@pytest.mark.usefixtures("perceptual_weights")
def test_fid_with_weights_present() -> None:
    rng = np.random.default_rng(2)
    real = rng.integers(0, 256, (4, 40, 48, 3), dtype=np.uint8)
    similar = np.clip(real.astype(np.int16) + rng.integers(-3, 4, real.shape), 0, 255)
    other = rng.integers(0, 64, (3, 64, 64, 3), dtype=np.uint8)  # another size and count
    same = fid_score(real, real)
    near = fid_score(real, similar.astype(np.uint8))
    far = fid_score(real, torch.from_numpy(other).permute(0, 3, 1, 2) / 255.0)
    assert same.reason is None and same.value == pytest.approx(0.0, abs=1e-6 * far.value)
    assert 0.0 < near.value < far.value


@pytest.mark.parametrize("n, m, d", [(5, 7, 12), (40, 30, 6)])  # both routes: N < D and N > D
def test_frechet_distance_matches_the_matrix_square_root_formula(n: int, m: int, d: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    y = rng.normal(size=(m, d)) * 2.0 + 0.5
    sx, sy = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(sx @ sy)
    expected = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(sx + sy - 2 * root.real)
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9 * np.trace(sx))
    shift = np.arange(d, dtype=np.float64)
    assert frechet_distance(x, x + shift) == pytest.approx(np.sum(shift**2), rel=1e-9)
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(x[:1], y)


def test_fid_needs_two_frames_per_set(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"inception"
    _register(monkeypatch, "inception_fid", data, hashlib.sha256(data).hexdigest())
    r = fid_score(_frames()[:1], _frames())
    assert r.value is None and "at least 2 frames" in r.reason
