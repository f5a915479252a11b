"""D2G-Net's modules: shapes, the texture mapping, gradients, the pose-condition switch."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ptx.methods.d2g.config import D2GConfig
from ptx.methods.d2g.renderer import D2GGenerator, pose_channels
from ptx.methods.d2g.translator import D2GTranslator
from ptx.nn.discriminator import MultiScaleDiscriminator
from ptx.nn.texture import HybridTexture, unwrap_texture
from ptx.nn.uv_generator import UVGenerator

S = 16


def small_cfg(**kw) -> D2GConfig:
    base = dict(size=S, uv_width=4, uv_down=2, uv_res=1, tr_width=4, tr_down=2, tr_res=1,
                tex_size=8, tex_channels=6, d_width=4, d_layers=2, d_scales=2)  # fmt: skip
    return dataclasses.replace(D2GConfig(), **{**base, **kw})


def random_iuv(b: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    iuv = torch.randint(0, 256, (b, 3, S, S), generator=g, dtype=torch.uint8)
    iuv[:, 0] = torch.randint(0, 25, (b, S, S), generator=g, dtype=torch.uint8)
    return iuv


def test_uv_generator_shapes_and_ranges():
    net = UVGenerator(18, 4, 2, 1)
    logits, uv = net(torch.randn(2, 18, S, S))
    assert logits.shape == (2, 25, S, S)
    assert uv.shape == (2, 48, S, S)
    assert uv.abs().max() <= 1.0


def test_uv_generator_with_iuv_input_starts_at_the_body_model():
    torch.manual_seed(0)
    net = UVGenerator(18, 4, 2, 1, iuv_input=True, prior_logit=8.0, prior_offset=0.25)
    iuv = random_iuv(2)
    logits, uv = net(torch.randn(2, 18, S, S), iuv)
    part = iuv[:, 0].long()
    assert (logits.argmax(1) == part).float().mean() > 0.95
    on = part > 0
    idx = (part - 1).clamp_min(0)
    pred = uv.view(2, 24, 2, S, S).gather(1, idx.view(2, 1, 1, S, S).expand(2, 1, 2, S, S))[:, 0]
    target = iuv[:, 1:3].float() * 2 / 255 - 1
    assert ((pred - target).abs().amax(1)[on] <= 0.25 + 1e-6).all()
    with pytest.raises(ValueError, match="iuv_input"):
        net(torch.randn(1, 18, S, S))


def test_texture_maps_uv_to_the_right_texels():
    tex = HybridTexture(size=8, channels=3, topk=2)
    ramp = torch.linspace(-1, 1, 8)
    charts = torch.zeros(24, 3, 8, 8)
    charts[:, 0] = ramp.view(1, 1, 8)  # channel 0 grows with u (columns)
    charts[:, 1] = ramp.view(1, 8, 1)  # channel 1 grows with v (rows)
    charts[:, 2] = torch.arange(24).float().view(24, 1, 1) / 24  # part identity
    tex.set_rgb(charts)
    b, h, w = 1, 4, 6
    part = torch.randint(0, 24, (b, h, w))
    probs = torch.zeros(b, 25, h, w).scatter_(1, (part + 1).unsqueeze(1), 1.0)
    u = torch.rand(b, h, w) * 1.5 - 0.75  # stay inside the texel centres' range
    v = torch.rand(b, h, w) * 1.5 - 0.75
    uv = torch.zeros(b, 24, 2, h, w)
    uv[:, :, 0], uv[:, :, 1] = u.unsqueeze(1), v.unsqueeze(1)
    out = tex(probs, uv.view(b, 48, h, w))
    # bilinear sampling of a linear ramp of texel centres is that line: x_tex = (u + 1) * 4 - 0.5
    expect_u = -1 + 2 * ((u + 1) * 4 - 0.5) / 7
    expect_v = -1 + 2 * ((v + 1) * 4 - 0.5) / 7
    assert torch.allclose(out[:, 0], expect_u, atol=1e-4)
    assert torch.allclose(out[:, 1], expect_v, atol=1e-4)
    assert torch.allclose(out[:, 2], part.float() / 24, atol=1e-5)


def test_top2_sampling_equals_dense_when_two_parts_share_a_pixel():
    torch.manual_seed(1)
    dense, top2 = HybridTexture(8, 4, topk=24), HybridTexture(8, 4, topk=2)
    with torch.no_grad():
        dense.atlas.normal_()
        top2.atlas.copy_(dense.atlas)
    b, h, w = 2, 5, 5
    a, c = torch.randint(1, 25, (2, b, h, w))
    c = torch.where(c == a, (a % 24) + 1, c)
    wa = torch.rand(b, h, w)
    probs = torch.zeros(b, 25, h, w)
    probs.scatter_(1, a.unsqueeze(1), wa.unsqueeze(1) * 0.9)
    probs.scatter_add_(1, c.unsqueeze(1), (1 - wa).unsqueeze(1) * 0.9)
    probs[:, 0] = 0.1
    uv = torch.rand(b, 48, h, w) * 2 - 1
    assert torch.allclose(dense(probs, uv), top2(probs, uv), atol=1e-5)


def test_unwrap_recovers_a_texture_and_fills_holes():
    size, t = 4, 6
    g = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 256, (24, 3, size, size), generator=g).float()
    iuv = torch.zeros(t, 3, 8, 8, dtype=torch.uint8)
    frames = torch.zeros(t, 3, 8, 8, dtype=torch.uint8)
    for i in range(t):
        part = torch.randint(1, 13, (8, 8), generator=g)  # parts 13..24 never seen
        u = torch.randint(0, 256, (8, 8), generator=g)
        v = torch.randint(0, 256, (8, 8), generator=g)
        iuv[i, 0], iuv[i, 1], iuv[i, 2] = part, u, v
        uu, vv = (u * size // 255).clamp(max=size - 1), (v * size // 255).clamp(max=size - 1)
        frames[i] = truth[part - 1, :, vv, uu].permute(2, 0, 1).to(torch.uint8)
    charts, seen = unwrap_texture(frames, iuv, size)
    hit = seen > 0
    got = (charts + 1) * 127.5
    assert hit[:12].sum() > 50 and not hit[12:].any()
    err = (got - truth).abs().permute(0, 2, 3, 1)[hit]
    assert err.max() < 0.51  # exact up to the [-1, 1] round trip
    assert torch.isfinite(charts).all() and (charts.abs() <= 1).all()
    mean = frames.permute(1, 0, 2, 3).reshape(3, -1).float().mean(1)
    assert torch.allclose(got[20, :, 0, 0], mean, atol=25)  # unseen part: the mean colour


def test_renderer_gradients_reach_texture_and_background():
    torch.manual_seed(0)
    cfg = small_cfg(iuv_input=False, tr_residual=False)
    g = D2GGenerator(cfg, n_backgrounds=2)
    with torch.no_grad():
        g.texture.atlas.normal_()
    pose = torch.randn(2, pose_channels(cfg), S, S)
    out = g(pose, video=torch.tensor([0, 1]))
    for name in ("output", "static", "fg", "background", "alpha"):
        t = getattr(out, name)
        assert t.shape[0] == 2 and t.shape[-2:] == (S, S), name
    target = torch.rand(2, 3, S, S) * 2 - 1
    ((out.output - target) ** 2).mean().backward()
    assert g.texture.atlas.grad is not None and g.texture.atlas.grad.abs().sum() > 0
    assert g.background.grad is not None and g.background.grad[0].abs().sum() > 0
    assert g.background.grad[1].abs().sum() > 0
    for net in (g.uv_generator, g.translator):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_residual_translator_starts_at_the_static_image():
    torch.manual_seed(0)
    g = D2GGenerator(small_cfg(iuv_input=True, tr_residual=True))
    with torch.no_grad():
        g.texture.atlas.normal_()
    out = g(torch.randn(1, 18, S, S), random_iuv(1))
    assert torch.equal(out.output, out.static)


def test_pose_condition_switch_changes_the_graph():
    torch.manual_seed(0)
    on = D2GTranslator(6, 18, 4, 2, 1, pose_condition=True, residual=False)
    off = D2GTranslator(6, 18, 4, 2, 1, pose_condition=False, residual=False)
    assert on.trunk.fuse is not None and off.trunk.fuse is None
    n_on = sum(p.numel() for p in on.parameters())
    n_off = sum(p.numel() for p in off.parameters())
    assert n_on > n_off
    hybrid = torch.randn(1, 6, S, S)
    p1, p2 = torch.randn(1, 18, S, S), torch.randn(1, 18, S, S)
    assert not torch.allclose(on(hybrid, p1), on(hybrid, p2))
    assert torch.equal(off(hybrid, p1), off(hybrid, p2))
    with pytest.raises(ValueError, match="condition"):
        on(hybrid, None)


def test_discriminator_scales_and_features():
    d = MultiScaleDiscriminator(18, 4, n_layers=2, n_scales=3)
    out = d(torch.randn(2, 18, 32, 32), torch.randn(2, 3, 32, 32))
    assert len(out) == 3
    assert all(len(s) == 4 and s[-1].shape[:2] == (2, 1) for s in out)
    assert out[0][-1].shape[-1] > out[1][-1].shape[-1] > out[2][-1].shape[-1]


def test_background_learns_only_where_the_mask_says_background():
    torch.manual_seed(0)
    g = D2GGenerator(small_cfg(iuv_input=False))
    gate = torch.zeros(1, 1, S, S)
    gate[..., : S // 2] = 1.0  # the person covers the left half
    out = g(torch.randn(1, 18, S, S), bg_gate=gate)
    out.output.sum().backward()
    grad = g.background.grad[0].abs().sum(0)
    assert grad[:, : S // 2].sum() == 0 and grad[:, S // 2 :].sum() > 0
