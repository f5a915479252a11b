"""The optional-weights registry: lookup, missing files, hash checks, data-only loading."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from ptx import weights as W
from ptx.errors import InputError, MissingWeightsError


@pytest.fixture
def wdir(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path))
    return tmp_path


def test_every_entry_is_complete():
    for key, w in W.WEIGHTS.items():
        assert w.key == key and w.url.startswith("https://") and w.url.endswith(w.filename)
        assert len(w.sha256) >= 8 and int(w.sha256, 16) >= 0
        assert w.used_by


def test_missing_file_says_what_and_where(wdir):
    assert W.weights_dir() == wdir and W.find("vgg19") is None
    with pytest.raises(MissingWeightsError) as info:
        W.verify("vgg19")
    msg = str(info.value)
    assert "vgg19-dcbb9e9d.pth" in msg and str(wdir) in msg and W.WEIGHTS["vgg19"].url in msg
    with pytest.raises(InputError, match="No weights file named 'nope'"):
        W.find("nope")


def test_hash_is_checked_and_loading_is_data_only(wdir, monkeypatch):
    monkeypatch.setattr(W, "CACHE_MIN_BYTES", 0)  # exercise the digest cache on a small file
    path = wdir / "vgg19-dcbb9e9d.pth"
    torch.save({"features.0.weight": torch.ones(2)}, path)
    with pytest.raises(InputError, match="not the official"):
        W.verify("vgg19")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    patched = dataclasses.replace(W.WEIGHTS["vgg19"], sha256=digest[:8])
    monkeypatch.setitem(W.WEIGHTS, "vgg19", patched)
    assert W.verify("vgg19") == path
    assert torch.equal(W.load_state_dict("vgg19")["features.0.weight"], torch.ones(2))
    rows = W.status(check=True)
    assert rows[0].present and rows[0].verified
    assert (wdir / ".ptx-sha256.json").is_file()
    path.write_bytes(b"changed")  # a changed file is hashed again, not trusted from the cache
    with pytest.raises(InputError, match="not the official"):
        W.verify("vgg19")


def test_a_packaged_official_copy_is_found_and_fully_verified(wdir):
    """torchmetrics ships LPIPS's alex.pth; its full SHA-256 is the one ptx lists."""
    copy = W.packaged_copy("lpips_alex")
    assert copy is not None and copy.name == "alex.pth" and wdir not in copy.parents
    assert W.find("lpips_alex") == copy and W.verify("lpips_alex") == copy
    assert len(W.WEIGHTS["lpips_alex"].sha256) == 64
    state = W.load_state_dict("lpips_alex")
    assert tuple(state["lin0.model.1.weight"].shape) == (1, 64, 1, 1)
    row = next(r for r in W.status(check=True) if r.file.key == "lpips_alex")
    assert row.present and row.verified and row.path == copy
    own = wdir / "alex.pth"  # a file in the weights directory comes first, and is checked
    own.write_bytes(b"not the official file")
    assert W.find("lpips_alex") == own
    with pytest.raises(InputError, match="not the official"):
        W.verify("lpips_alex")
    assert W.packaged_copy("vgg19") is None


def test_weights_in_the_torch_hub_cache_are_found_and_checked(wdir, tmp_path, monkeypatch):
    hub = tmp_path / "torch-home" / "hub" / "checkpoints"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    assert W.torch_hub_dir() == hub and W.find("vgg19") is None
    hub.mkdir(parents=True)
    path = hub / "vgg19-dcbb9e9d.pth"
    torch.save({"w": torch.ones(2)}, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert W.find("vgg19") == path
    with pytest.raises(InputError, match="is not the official"):  # still checked
        W.verify("vgg19")
    monkeypatch.setitem(W.WEIGHTS, "vgg19", dataclasses.replace(W.WEIGHTS["vgg19"], sha256=digest))
    assert W.verify("vgg19") == path
    (wdir / "vgg19-dcbb9e9d.pth").write_bytes(b"x")  # the weights directory comes first
    assert W.find("vgg19") == wdir / "vgg19-dcbb9e9d.pth"
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert W.torch_hub_dir() == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
