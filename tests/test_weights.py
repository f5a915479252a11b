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
    path.write_bytes(b"changed")  # a changed file is hashed again, not trusted from the cache
    with pytest.raises(InputError, match="not the official"):
        W.verify("vgg19")
