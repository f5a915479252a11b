"""Our LPIPS matches the official files' layout and an independent implementation."""

from __future__ import annotations

import pytest
import torch

from ptx import weights as W
from ptx.metrics.lpips import CHANNELS, CONV_INDICES, LPIPS, alexnet_features, load_lpips

ALEXNET_FEATURE_PARAMETERS = 2_469_696
"""torchvision's alexnet has 61,100,840 parameters, 58,631,144 of them in its classifier."""


def _images(seed: int, n: int = 2, size: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _official_linear() -> dict[str, torch.Tensor]:
    """LPIPS v0.1's real linear layers (the copy torchmetrics installs)."""
    return W.load_state_dict("lpips_alex")


@pytest.fixture
def make_net(random_alexnet):
    """``make_net(seed) -> LPIPS`` with a random trunk and the real linear layers."""

    def make(seed: int = 0) -> LPIPS:
        net = LPIPS()
        net.load_official(random_alexnet(seed), _official_linear())
        return net

    return make


def test_layout_matches_the_official_files():
    trunk = alexnet_features()
    assert sum(p.numel() for p in trunk.parameters()) == ALEXNET_FEATURE_PARAMETERS
    assert list(LPIPS().state_dict())[:10] == [
        f"features.{i}.{p}" for i in CONV_INDICES for p in ("weight", "bias")
    ]
    linear = _official_linear()
    assert sorted(linear) == [f"lin{k}.model.1.weight" for k in range(5)]
    assert [tuple(linear[f"lin{k}.model.1.weight"].shape) for k in range(5)] == [
        (1, c, 1, 1) for c in CHANNELS
    ]
    stages = LPIPS().stages(_images(0, 1, 224))
    assert [s.shape[1] for s in stages] == list(CHANNELS)
    assert [s.shape[-1] for s in stages] == [55, 27, 13, 13, 13]


def test_agrees_with_torchmetrics_lpips_on_the_same_trunk(make_net, monkeypatch):
    """torchmetrics builds LPIPS around torchvision's AlexNet, which ptx never installs;
    handing it our trunk (same weights) checks everything else: input scaling, channel
    normalisation, the official linear layers, the averaging."""
    from torchmetrics.functional.image import lpips as tm

    net = make_net(3)
    trunk = alexnet_features()
    trunk.load_state_dict(net.features.state_dict())
    monkeypatch.setattr(tm, "_get_tv_model_features", lambda name, pretrained=False: trunk)
    reference = tm._LPIPS(pretrained=True, net="alex").eval()
    a, b = _images(1), _images(2)
    b[1] = (a[1] + 0.05 * torch.randn_like(a[1])).clamp(0, 1)  # one near pair, one far pair
    with torch.no_grad():
        theirs = reference(a, b, normalize=True).flatten()
        ours = net(a, b)
    assert ours[1] < ours[0]
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_distance_properties(make_net):
    net = make_net()
    a = _images(4, n=1, size=48)
    assert float(net(a, a)) == 0.0
    noise = torch.randn_like(a)
    d = [float(net(a, (a + s * noise).clamp(0, 1))) for s in (0.02, 0.1, 0.3)]
    assert 0 < d[0] < d[1] < d[2]
    b = _images(5, n=1, size=48)
    assert float(net(a, b)) == pytest.approx(float(net(b, a)), rel=1e-6)
    with pytest.raises(ValueError, match=r"one shape"):
        net(a, _images(6, n=1, size=40))


def test_loader_reads_the_official_key_names(random_alexnet, install_weights):
    state = random_alexnet(7)
    state["classifier.1.weight"] = torch.zeros(4, 9216)  # the official file has a classifier
    install_weights("alexnet", state)
    net = load_lpips()
    assert torch.equal(net.features[10].weight, state["features.10.weight"])
    assert torch.equal(net.lins[2].model[1].weight, _official_linear()["lin2.model.1.weight"])
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    del state["features.10.bias"]
    with pytest.raises(
        ValueError, match=r"AlexNet state dict LPIPS needs \(missing features\.10\.bias\)"
    ):
        LPIPS().load_official(state, _official_linear())
    state["features.10.bias"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"features\.10\.bias has shape \(3,\), expected \(256,\)"):
        LPIPS().load_official(state, _official_linear())
