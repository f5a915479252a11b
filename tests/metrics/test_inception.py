"""Our FID InceptionV3 has the official file's layout, the FID variant's pooling, pytorch-fid's
input handling, and loads a verified weights file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ptx.errors import MissingWeightsError
from ptx.metrics.inception import FIDInceptionV3, features, load_fid_inception

OFFICIAL_SHAPES = {
    "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
    "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
    "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
    "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
    "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
    "Mixed_6b.branch7x7dbl_5.conv.weight": (192, 128, 1, 7),
    "Mixed_6e.branch7x7_2.conv.weight": (192, 192, 1, 7),
    "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
    "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
    "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
    "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
    "Mixed_7c.branch_pool.bn.running_var": (192,),
}
"""A few shapes of ``pt_inception-2015-12-05-6726825d.pth`` (facts of the file)."""

TRUNK_PARAMETERS = 27_161_264 - 3_326_696 - 2_049_000
"""torchvision's inception_v3 without AuxLogits and its 1000-class fc: 21,785,568."""


@pytest.fixture(scope="module")
def net(random_inception) -> FIDInceptionV3:
    return random_inception(0)


def test_layout_matches_the_official_file():
    net = FIDInceptionV3()
    assert sum(p.numel() for p in net.parameters()) == TRUNK_PARAMETERS == 21_785_568
    state = net.state_dict()
    for key, shape in OFFICIAL_SHAPES.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith(("fc.", "AuxLogits.")) for k in state)
    suffixes = {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"}
    ends = {".".join(k.split(".")[-2:]) for k in state if not k.endswith("num_batches_tracked")}
    assert ends == suffixes
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 94 and all(m.eps == 0.001 for m in norms)
    assert all(m.bias is None for m in net.modules() if isinstance(m, nn.Conv2d))


def test_forward_resizes_scales_and_batches_like_pytorch_fid(net):
    torch.manual_seed(1)
    x = torch.rand(2, 3, 64, 80) * torch.tensor([1.0, 0.3]).view(2, 1, 1, 1)
    with torch.inference_mode():
        out = net(x)
        resized = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        by_hand = net.pool3(resized * 2 - 1)
        first = net(resized[:1])  # already 299x299: no second resize
        second = net(x[1:])
    assert out.shape == (2, 2048) and first.shape == (1, 2048) and out.dtype == torch.float32
    assert torch.allclose(out, by_hand, rtol=0, atol=1e-5)
    assert torch.allclose(first[0], out[0], rtol=1e-5, atol=1e-4)
    assert torch.allclose(second[0], out[1], rtol=1e-5, atol=1e-4)
    assert bool((out >= 0).all())
    assert float((out[0] - out[1]).abs().max()) > 1e-2  # the two images are told apart


def _avg(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _avg_with_pad(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)


def _max(x):
    return F.max_pool2d(x, 3, stride=1, padding=1)


def _reduce(x):
    return F.max_pool2d(x, 3, stride=2)


A = ["branch1x1", "branch5x5_1 branch5x5_2", "branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3"]
C = ["branch1x1", "branch7x7_1 branch7x7_2 branch7x7_3"]
C += ["branch7x7dbl_1 branch7x7dbl_2 branch7x7dbl_3 branch7x7dbl_4 branch7x7dbl_5"]
E = ["branch1x1", "branch3x3_1 branch3x3_2a", "branch3x3_1 branch3x3_2b"]
E += [
    "branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3a",
    "branch3x3dbl_1 branch3x3dbl_2 branch3x3dbl_3b",
]
BLOCKS = {
    # block: (input channels, output channels, branches in output order, pooling, wrong pooling)
    "Mixed_5b": (192, 256, [*A, "branch_pool"], _avg, _avg_with_pad),
    "Mixed_6a": (288, 768, ["branch3x3", A[2]], _reduce, None),
    "Mixed_6b": (768, 768, [*C, "branch_pool"], _avg, _avg_with_pad),
    "Mixed_7a": (
        768,
        1280,
        ["branch3x3_1 branch3x3_2", "branch7x7x3_1 branch7x7x3_2 branch7x7x3_3 branch7x7x3_4"],
        _reduce,
        None,
    ),
    "Mixed_7b": (1280, 2048, [*E, "branch_pool"], _avg, _avg_with_pad),
    "Mixed_7c": (2048, 2048, [*E, "branch_pool"], _max, _avg),
}
"""Each Mixed block, branch by branch ("a b c" = units a, b, c in turn), as the FID network
defines it: the A/C blocks and Mixed_7b average-pool without the padding, Mixed_7c
max-pools, and the reductions append a stride-2 max pool of their input."""


@pytest.mark.parametrize("name", list(BLOCKS))
def test_mixed_blocks_equal_their_branches_composed_by_hand(net, name):
    cin, cout, branches, pool, wrong = BLOCKS[name]
    block = getattr(net, name)
    torch.manual_seed(2)
    x = torch.randn(1, cin, 7, 7)

    def compose(pooling):
        outs = []
        for chain in branches:
            h = pooling(x) if chain == "branch_pool" else x
            for unit in chain.split():
                h = getattr(block, unit)(h)
            outs.append(h)
        if "branch_pool" not in branches:
            outs.append(pooling(x))
        return torch.cat(outs, 1)

    with torch.inference_mode():
        out = block(x)
        expected = compose(pool)
        other = compose(wrong) if wrong else None
    assert out.shape[1] == cout
    assert torch.allclose(out, expected, rtol=0, atol=1e-5)
    if other is not None:  # the check tells the FID pooling from the alternative
        assert float((other - out).abs().max()) > 1e-3


def test_loader_reproduces_the_saved_net_and_features_helper(net, install_weights):
    state = {k: v for k, v in net.state_dict().items() if "num_batches_tracked" not in k}
    state["fc.weight"] = torch.zeros(1008, 2048)  # the official file also has the logits layer
    state["fc.bias"] = torch.zeros(1008)
    install_weights("inception_fid", state)

    loaded = load_fid_inception()
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    assert torch.equal(
        loaded.Mixed_7c.branch_pool.bn.running_var, state["Mixed_7c.branch_pool.bn.running_var"]
    )
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, size=(3, 40, 48, 3), dtype=np.uint8)
    frames[1] //= 4
    original = features(net, frames, batch=2)
    reloaded = features(loaded, frames, batch=2)
    assert original.dtype == np.float64 and original.shape == (3, 2048)
    assert np.array_equal(original, reloaded)
    as_tensor = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    np.testing.assert_allclose(features(loaded, as_tensor, batch=3), original, rtol=1e-5, atol=1e-4)
    assert features(loaded, frames[:0]).shape == (0, 2048)


def test_loader_refuses_missing_files_keys_and_shapes():
    with pytest.raises(MissingWeightsError, match=r"pt_inception-2015-12-05-6726825d\.pth"):
        load_fid_inception()
    net = FIDInceptionV3()
    state = dict(net.state_dict())
    del state["Mixed_6c.branch7x7dbl_4.bn.running_mean"]
    with pytest.raises(ValueError, match=r"missing Mixed_6c\.branch7x7dbl_4\.bn\.running_mean"):
        net.load_official(state)
    state = dict(net.state_dict())
    state["Mixed_5b.branch_pool.conv.weight"] = torch.zeros(64, 192, 1, 1)
    with pytest.raises(ValueError, match=r"Mixed_5b\.branch_pool\.conv\.weight has shape"):
        net.load_official(state)
