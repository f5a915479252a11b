"""Our VGG-19 definition matches the official file's layout; the perceptual loss behaves."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from ptx import weights as W
from ptx.methods.d2g import METHOD as D2G
from ptx.nn.vgg import TAPS, VGG19Features, VGGLoss, load_vgg_loss
from ptx.training.run import perceptual_loss

CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28)
"""Where torchvision's vgg19 has its convolutions up to conv5_1 (facts of the file)."""


def test_parameter_names_and_shapes_match_the_official_layout():
    net = VGG19Features()
    keys = [k for k in net.state_dict() if k.endswith(".weight")]
    assert keys == [f"features.{i}.weight" for i in CONV_INDICES]
    assert net.state_dict()["features.28.weight"].shape == (512, 512, 3, 3)
    assert TAPS["relu5_1"] == 29 and len(net(torch.zeros(1, 3, 32, 32))) == 5


def test_perceptual_loss_is_zero_for_equal_images_only():
    torch.manual_seed(0)
    loss = VGGLoss(VGG19Features())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(loss(x, x)) == 0.0
    assert float(loss(x, x.flip(-1))) > 0.0
    assert not any(p.requires_grad for p in loss.parameters())


def test_loader_uses_a_verified_file_and_training_says_which_loss(tmp_path, monkeypatch):
    monkeypatch.setenv("PTX_WEIGHTS", str(tmp_path))
    loss, note = perceptual_loss(D2G)
    assert loss is None and "pixel L1" in note
    torch.manual_seed(1)
    state = VGG19Features().state_dict()
    state["classifier.0.weight"] = torch.zeros(1)  # the official file also has a classifier
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(W.WEIGHTS, "vgg19", dataclasses.replace(W.WEIGHTS["vgg19"], sha256=digest))
    loaded = load_vgg_loss()
    assert torch.equal(loaded.net.features[28].weight, state["features.28.weight"])
    loss, note = perceptual_loss(D2G)
    assert isinstance(loss, VGGLoss) and note.startswith("Perceptual loss: VGG-19")
    del state["features.28.bias"]
    torch.save(state, path)
    monkeypatch.setitem(
        W.WEIGHTS,
        "vgg19",
        dataclasses.replace(
            W.WEIGHTS["vgg19"], sha256=hashlib.sha256(path.read_bytes()).hexdigest()
        ),
    )
    with pytest.raises(ValueError, match=r"missing features\.28\.bias"):
        load_vgg_loss()
