"""LPIPS and FID are None with a reason when their weights are not there."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from ptx import weights
from ptx.metrics import perceptual
from ptx.metrics.perceptual import fid_score, lpips_score


def _frames() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)


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
    _register(monkeypatch, "alexnet", data, good)
    lp = lpips_score(_frames(), _frames())
    assert lp.value is None and "not implemented" in lp.reason


def test_fid_needs_two_frames_per_set(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"inception"
    _register(monkeypatch, "inception_fid", data, hashlib.sha256(data).hexdigest())
    r = fid_score(_frames()[:1], _frames())
    assert r.value is None and "at least 2 frames" in r.reason
