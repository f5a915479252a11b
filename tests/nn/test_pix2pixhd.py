"""pix2pixHD's generators: pix2pixHD's layer plan, rectangular frames, the local
enhancer's global part at half resolution."""

from __future__ import annotations

import torch
from torch import nn

from ptx.nn.discriminator import MultiScaleDiscriminator
from ptx.nn.pix2pixhd import GlobalGenerator, LocalEnhancer, ResnetBlock, half, multiple


def _count(net: nn.Module, kind: type, **attrs) -> int:
    return sum(
        isinstance(m, kind) and all(getattr(m, k) == v for k, v in attrs.items())
        for m in net.modules()
    )


def test_global_generator_layer_plan_and_rectangular_frames():
    torch.manual_seed(0)
    net = GlobalGenerator(6, 3, width=4, n_down=3, n_res=2)
    assert _count(net, nn.Conv2d, stride=(2, 2)) == 3
    assert _count(net, nn.ConvTranspose2d, stride=(2, 2)) == 3
    assert _count(net, ResnetBlock) == 2
    assert _count(net, nn.InstanceNorm2d, affine=False) == 1 + 3 + 2 * 2 + 3
    assert (
        net.body[1].out_channels == 4
        and max(m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)) == 4 * 2**3
    )
    x = torch.randn(2, 6, 24, 40)  # H != W, both divisible by 2 ** 3
    y = net(x)
    assert y.shape == (2, 3, 24, 40) and y.abs().max() <= 1.0
    assert net.features(x).shape == (2, 4, 24, 40)
    y.sum().backward()
    assert net.body[1].weight.grad.abs().sum() > 0


def test_local_enhancer_adds_the_global_features_at_half_resolution():
    torch.manual_seed(0)
    net = LocalEnhancer(6, 3, width=4, n_down=2, n_res=1, n_res_local=1)
    assert net.global_net.body[1].out_channels == 8  # twice the local width
    x = torch.randn(1, 6, 16, 24)
    y = net(x)
    assert y.shape == (1, 3, 16, 24)
    assert net.global_net(half(x)).shape == (1, 3, 8, 12)  # trainable alone first
    with torch.no_grad():
        net.global_net.body[1].weight.mul_(-1.0)  # the global part feeds the output
    assert not torch.allclose(net(x), y)
    assert multiple(2, local=True) == 8 and multiple(3) == 8


def test_discriminator_takes_two_frames_at_once():
    d = MultiScaleDiscriminator(6, 4, 2, 2, image_channels=6)
    feats = d(torch.randn(2, 6, 16, 24), torch.randn(2, 6, 16, 24))
    assert len(feats) == 2 and feats[0][0].shape[1] == 4
    assert feats[1][-1].shape[-1] < feats[0][-1].shape[-1]
