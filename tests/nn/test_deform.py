"""The plain-PyTorch modulated deformable convolution against conv2d and gradcheck."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from ptx.nn.deform import ModulatedDeformConv2d, deform_conv2d


def _inputs(b=2, c=3, h=7, w=8, o=4, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(o, c, k, k, generator=g, dtype=torch.float64)
    bias = torch.randn(o, generator=g, dtype=torch.float64)
    return x, weight, bias


@pytest.mark.parametrize(("k", "padding", "dilation"), [(3, 1, 1), (3, 0, 1), (5, 2, 1), (3, 2, 2)])
def test_zero_offset_unit_mask_is_conv2d(k, padding, dilation):
    x, weight, bias = _inputs(k=k)
    ref = F.conv2d(x, weight, bias, padding=padding, dilation=dilation)
    ho, wo = ref.shape[-2:]
    off = torch.zeros(2, 2 * k * k, ho, wo, dtype=torch.float64)
    mask = torch.ones(2, k * k, ho, wo, dtype=torch.float64)
    out = deform_conv2d(x, off, mask, weight, bias, padding, dilation)
    assert out.shape == ref.shape
    assert (out - ref).abs().max().item() < 1e-12


def test_mask_scales_each_tap():
    """A mask that keeps only the centre tap: a 1x1 convolution with the centre weights."""
    x, weight, _ = _inputs()
    mask = torch.zeros(2, 9, 7, 8, dtype=torch.float64)
    mask[:, 4] = 0.5
    out = deform_conv2d(x, torch.zeros(2, 18, 7, 8, dtype=torch.float64), mask, weight, None, 1)
    ref = 0.5 * F.conv2d(x, weight[:, :, 1:2, 1:2])
    assert (out - ref).abs().max().item() < 1e-12


@pytest.mark.parametrize(("dy", "dx"), [(1, -2), (-1, 0), (2, 3)])
def test_integer_offset_is_shifted_conv(dy, dx):
    """Every tap moved by (dy, dx): output p reads the window of p + (dy, dx), which is the
    zero-padded convolution's output there (both read zeros outside the picture)."""
    x, weight, bias = _inputs(h=9, w=10)
    ref = F.conv2d(x, weight, bias, padding=1)
    off = torch.zeros(2, 9, 2, 9, 10, dtype=torch.float64)
    off[:, :, 0], off[:, :, 1] = dy, dx
    out = deform_conv2d(x, off.view(2, 18, 9, 10), None, weight, bias, 1)
    ys = slice(max(0, -dy), 9 - max(0, dy))
    xs = slice(max(0, -dx), 10 - max(0, dx))
    shifted = ref[:, :, ys.start + dy : ys.stop + dy, xs.start + dx : xs.stop + dx]
    assert (out[:, :, ys, xs] - shifted).abs().max().item() < 1e-12
    # and a fractional offset is not: the test can tell shifts apart
    off2 = off.clone()
    off2[:, :, 0] += 0.5
    out2 = deform_conv2d(x, off2.view(2, 18, 9, 10), None, weight, bias, 1)
    assert (out2[:, :, ys, xs] - shifted).abs().max().item() > 1e-3


def test_half_pixel_offset_is_bilinear_mean():
    """A (0, 0.5) offset reads the mean of two horizontal neighbours (away from the left
    and right edges, where the reference's padding differs)."""
    x, weight, bias = _inputs(h=6, w=6)
    off = torch.zeros(2, 9, 2, 6, 6, dtype=torch.float64)
    off[:, :, 1] = 0.5
    out = deform_conv2d(x, off.view(2, 18, 6, 6), None, weight, bias, 1)
    mean = 0.5 * (x + F.pad(x, (0, 1))[..., 1:])
    ref = F.conv2d(mean, weight, bias, padding=1)
    assert (out[..., :, 1:-1] - ref[..., :, 1:-1]).abs().max().item() < 1e-12


def test_per_sample_weights_are_per_sample_conv():
    x, _, _ = _inputs()
    g = torch.Generator().manual_seed(3)
    w = torch.randn(2, 4, 3, 3, 3, generator=g, dtype=torch.float64)
    bias = torch.randn(2, 4, generator=g, dtype=torch.float64)
    off = torch.zeros(2, 18, 7, 8, dtype=torch.float64)
    out = deform_conv2d(x, off, None, w, bias, 1)
    for i in range(2):
        ref = F.conv2d(x[i : i + 1], w[i], bias[i], padding=1)
        assert (out[i : i + 1] - ref).abs().max().item() < 1e-12


def test_gradcheck_fractional_offsets():
    g = torch.Generator().manual_seed(1)
    b, c, h, w, o = 1, 2, 3, 4, 2
    x = torch.randn(b, c, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    # fractional offsets away from integers (bilinear sampling has kinks there)
    off = (torch.rand(b, 18, h, w, generator=g, dtype=torch.float64) * 0.6 + 0.2) * torch.tensor(
        [1.0, -1.0], dtype=torch.float64
    ).repeat(9).view(1, 18, 1, 1)
    off.requires_grad_(True)
    mask = torch.rand(b, 9, h, w, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(o, c, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(o, generator=g, dtype=torch.float64, requires_grad=True)
    fn = lambda *a: deform_conv2d(*a, padding=1)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, off, mask, weight, bias), eps=1e-6, atol=1e-6)


def test_module_starts_as_its_conv_and_learns_offsets():
    torch.manual_seed(0)
    layer = ModulatedDeformConv2d(3, 4, c_guide=5).double()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    guide = torch.randn(2, 5, 6, 6, dtype=torch.float64)
    ref = F.conv2d(x, layer.weight, layer.bias, padding=1)
    assert (layer(x, guide) - ref).abs().max().item() < 1e-12
    layer(x, guide).square().sum().backward()
    # the zero-initialised predictor still receives gradient (offsets and mask can move)
    assert layer.offset_mask.conv.weight.grad.abs().sum().item() > 0


def test_bad_shapes_raise():
    x, weight, _ = _inputs()
    with pytest.raises(ValueError, match="offset"):
        deform_conv2d(x, torch.zeros(2, 9, 7, 8, dtype=torch.float64), None, weight, None, 1)
    with pytest.raises(ValueError, match="channels"):
        deform_conv2d(x[:, :2], torch.zeros(2, 18, 7, 8), None, weight, None, 1)
