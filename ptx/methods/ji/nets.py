"""Ji et al.'s networks [002 §III, Fig. 2]: MotionNet, the 2D feature-warping branch, the
2.5D neural-texture branch and BlenderNet, at the input resolution (the output frame / sr).

The paper defers the layers to a supplement we do not have; what it gives is kept and the
rest is our choice (said here):

- **IUV encoding**: each DensePose map is 24 parts x (indicator, U, V) = 72 channels, the
  one-hot encoding of the paper's 2D baseline [002 §IV-B], U and V in [0, 1].
- **MotionNet** [Eq. 1], "built upon FlowNet": an encoder of (I_s, P_s, P_d) (7x7 conv,
  4 stride-2 convs to 1/16), whose pooled last feature gives alpha and rho by one linear
  layer; a decoder that upsamples with skips from the encoder and predicts flow and
  occlusion at 1/4, 1/2 and 1/1 (32, 64, 128 for a 128 input), each finer flow a residual
  on the upsampled coarser one. Flows start at zero (the identity), occlusions at 0.5.
  Flows are in ptx's convention (``ptx.nn.warp``: driving pixel p shows the source at
  p + f[p]), in pixels of their level.
- **2D branch** [Eq. 2-4]: E_s gives source features at 1/1, 1/2, 1/4; the decoder starts
  from the coarsest warped features and at each finer level fuses
  ``Warp(z_s, f) * o + z_hat * (1 - o)`` (Eq. 3 as written: o = 1 takes the warped source;
  the sentence before it reads the other way); G_app is one conv to an image and a mask.
- **2.5D branch** [Eq. 5-8]: a shared trunk of (I_s, P_s) to 1/8 with two separate convs
  for E_app and E_geo. T_app: E_app squeezed to ``ngf`` channels (1x1 conv) and pooled to
  4x4, with alpha -> a linear layer -> a 4x4 seed per part, upsampled by per-part (grouped) convs to the atlas
  (24, c, tex_size, tex_size): the atlas is decoded from vectors, since image positions
  do not map to UV positions by a convolution. T_geo: E_geo modulated by rho (scale and
  shift), upsampled to 1/1, a head for U-hat, V-hat (24 each, sigmoid) and S-hat (25 logits,
  softmax). Texture mapping samples part k's atlas at (U-hat_k, V-hat_k) and sums with
  weights S-hat_k, background ignored [Eq. 6-7]; one conv each gives I_geo and m_geo.
- **BlenderNet** [Eq. 9], shallow: a 3x3 conv and 2 ResNet blocks on (z_geo, z_app,
  I_app) with an image and mask head at the input resolution; its super-resolution block
  (sr > 1) upsamples the features, and a conv, zero at the start, adds a correction to the
  bilinearly upsampled image and mask: before it is trained the output is the upsampled
  low-resolution blend.
- **Normalisation** (``norm``): not given. The conv blocks (``ptx.nn.blocks``) take
  instance norm or none; ptx's default is none (measured in ``config``: instance norm
  removes the source's absolute colours, which a one-shot generator must carry).
- **Size**: with the paper preset the generator has 34.35 M parameters (the paper's
  total is 34.84 M [002 Tab. IV]); most of them are T_app's linear seed of the atlas.
- **Discriminator** [§III-E e], "a simple Discriminator with ResNet blocks": a 3x3 conv,
  ``d_blocks`` stride-2 residual blocks (LeakyReLU 0.2, no norm), a 3x3 conv to patch logits.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ptx.nn.blocks import ResBlock, Up, conv_norm_act, down
from ptx.nn.uv_generator import N_PARTS
from ptx.nn.warp import warp_backward

IUV_CHANNELS = 3 * N_PARTS


def small(iuv: torch.Tensor, sr: int) -> torch.Tensor:
    """uint8 IUV (n, 3, H, W) at 1/sr (nearest: part ids are never averaged)."""
    return iuv if sr == 1 else iuv[:, :, sr // 2 :: sr, sr // 2 :: sr]


def shrink(image: torch.Tensor, sr: int) -> torch.Tensor:
    """An image (n, C, H, W) at 1/sr (area)."""
    return image if sr == 1 else F.avg_pool2d(image, sr)


def iuv_parts(iuv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 IUV (n, 3, h, w) -> (part int64 (n, h, w), u, v float (n, h, w) in [0, 1])."""
    return iuv[:, 0].long().clamp(0, N_PARTS), iuv[:, 1].float() / 255, iuv[:, 2].float() / 255


def encode_iuv(iuv: torch.Tensor) -> torch.Tensor:
    """uint8 IUV (n, 3, h, w) -> float (n, 72, h, w): per part (indicator, U, V)."""
    part, u, v = iuv_parts(iuv)
    on = F.one_hot(part, N_PARTS + 1)[..., 1:].permute(0, 3, 1, 2).float()
    return torch.stack([on, on * u[:, None], on * v[:, None]], 2).flatten(1, 2)


def _widths(ngf: int, n: int) -> list[int]:
    return [min(ngf * 2**i, 8 * ngf) for i in range(n + 1)]


class MotionNet(nn.Module):
    def __init__(
        self, ngf: int, alpha_dim: int, rho_dim: int, decoder: bool, norm: str = "instance"
    ) -> None:
        super().__init__()
        w = self.w = _widths(ngf, 4)
        self.alpha_dim = alpha_dim
        self.stem = conv_norm_act(3 + 2 * IUV_CHANNELS, w[0], 7, norm=norm)
        self.downs = nn.ModuleList(down(w[i], w[i + 1], norm) for i in range(4))
        self.signals = nn.Linear(w[4], alpha_dim + rho_dim)
        self.decoder = None
        if decoder:
            heads = [nn.Conv2d(2 * w[i], 3, 3, padding=1) for i in (2, 1, 0)]
            for h in heads:
                nn.init.zeros_(h.weight)
                nn.init.zeros_(h.bias)
            self.decoder = nn.ModuleDict({
                "up8": Up(w[4], w[3], norm),
                "up4": Up(2 * w[3], w[2], norm),
                "up2": Up(2 * w[2] + 3, w[1], norm),
                "up1": Up(2 * w[1] + 3, w[0], norm),
                "heads": nn.ModuleList(heads),
            })  # fmt: skip

    def encoder_modules(self) -> list[nn.Module]:
        return [self.stem, self.downs, self.signals]

    def forward(self, source, p_s, p_d, decode: bool = True):
        """-> (alpha, rho, flows [1/4, 1/2, 1/1], occlusions (sigmoid) [same]); without
        ``decode`` (or a decoder) only alpha and rho."""
        feats = [self.stem(torch.cat([source, p_s, p_d], 1))]
        for d in self.downs:
            feats.append(d(feats[-1]))
        sig = self.signals(feats[-1].mean((2, 3)))
        alpha, rho = sig[:, : self.alpha_dim], sig[:, self.alpha_dim :]
        if self.decoder is None or not decode:
            return alpha, rho, [], []
        dec = self.decoder
        h = torch.cat([dec["up8"](feats[4]), feats[3]], 1)
        h = torch.cat([dec["up4"](h), feats[2]], 1)
        flows, occs = [], []
        out = dec["heads"][0](h)
        flows.append(out[:, :2])
        occs.append(torch.sigmoid(out[:, 2:]))
        for level, (up, skip) in enumerate(((dec["up2"], feats[1]), (dec["up1"], feats[0]))):
            h = torch.cat([up(torch.cat([h, out], 1)), skip], 1)
            out = dec["heads"][level + 1](h)
            coarse = 2.0 * F.interpolate(flows[-1], scale_factor=2.0, mode="bilinear")
            flows.append(coarse + out[:, :2])
            occs.append(torch.sigmoid(out[:, 2:]))
        return alpha, rho, flows, occs


class WarpBranch(nn.Module):
    """The 2D branch: E_s, the occlusion-gated multi-scale warping decoder, G_app."""

    def __init__(self, ngf: int, norm: str = "instance") -> None:
        super().__init__()
        w = _widths(ngf, 2)
        self.stem = conv_norm_act(3, w[0], 7, norm=norm)
        self.d1, self.d2 = down(w[0], w[1], norm), down(w[1], w[2], norm)
        self.first = ResBlock(w[2], norm)
        self.ups = nn.ModuleList([Up(w[2], w[1], norm), Up(w[1], w[0], norm)])
        self.head = nn.Conv2d(w[0], 4, 3, padding=1)
        self.channels = w[0]

    def forward(self, source: torch.Tensor, flows: list, occs: list):
        """-> (z_app (n, ngf, h, w), I_app in [-1, 1], m_app logits)."""
        z1 = self.stem(source)
        z2 = self.d1(z1)
        z4 = self.d2(z2)
        h = self.first(warp_backward(z4, flows[0])[0] * occs[0])
        for up, z, f, o in zip(self.ups, (z2, z1), flows[1:], occs[1:], strict=True):
            h = up(h)
            h = warp_backward(z, f)[0] * o + h * (1 - o)
        out = self.head(h)
        return h, torch.tanh(out[:, :3]), out[:, 3:]


def texture_map(atlas: torch.Tensor, probs: torch.Tensor, u: torch.Tensor, v: torch.Tensor):
    """Eq. 6-7: ``atlas`` (n, 24, c, t, t); ``probs`` (n, 25, h, w) (channel 0, the
    background, ignored); ``u``, ``v`` (n, 24, h, w) in [0, 1] -> z_geo (n, c, h, w)."""
    n, k, c, t, _ = atlas.shape
    h, w = u.shape[-2:]
    grid = torch.stack([2 * u - 1, 2 * v - 1], -1).reshape(n * k, h, w, 2)
    r = F.grid_sample(
        atlas.reshape(n * k, c, t, t).float(), grid.float(), mode="bilinear",
        padding_mode="border", align_corners=False,
    ).view(n, k, c, h, w)  # fmt: skip
    return (probs[:, 1:, None] * r).sum(1)


class TextureBranch(nn.Module):
    """The 2.5D branch: shared trunk, E_app / E_geo, T_app, T_geo, texture mapping, G."""

    def __init__(
        self, ngf: int, alpha_dim: int, rho_dim: int, channels: int, tex_size: int,
        norm: str = "instance",
    ) -> None:  # fmt: skip
        super().__init__()
        w = _widths(ngf, 3)
        self.c, self.t = channels, tex_size
        self.trunk = nn.Sequential(
            conv_norm_act(3 + IUV_CHANNELS, w[0], 7, norm=norm),
            *(down(w[i], w[i + 1], norm) for i in range(3)),
        )
        self.e_app = nn.Sequential(nn.Conv2d(w[3], w[3], 3, padding=1), nn.ReLU(True))
        self.e_geo = nn.Sequential(nn.Conv2d(w[3], w[3], 3, padding=1), nn.ReLU(True))
        g = N_PARTS * channels
        self.squeeze = nn.Conv2d(w[3], w[0], 1)
        self.seed = nn.Linear(16 * w[0] + alpha_dim, g * 16)
        grow: list[nn.Module] = []
        for _ in range(int(math.log2(tex_size // 4))):
            grow += [
                nn.Upsample(scale_factor=2.0, mode="nearest"),
                nn.Conv2d(g, g, 3, padding=1, groups=N_PARTS),
                nn.LeakyReLU(0.2, True),
            ]
        self.t_app = nn.Sequential(*grow, nn.Conv2d(g, g, 3, padding=1, groups=N_PARTS))
        self.film = nn.Linear(rho_dim, 2 * w[3])
        self.t_geo = nn.Sequential(
            ResBlock(w[3], norm), Up(w[3], w[2], norm), Up(w[2], w[1], norm),
            Up(w[1], w[0], norm),
            nn.Conv2d(w[0], 3 * N_PARTS + 1, 3, padding=1),
        )  # fmt: skip
        self.head_image = nn.Conv2d(channels, 3, 3, padding=1)
        self.head_mask = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, source, p_s, alpha, rho, driving: torch.Tensor | None = None):
        """-> (z_geo, I_geo, m_geo logits, S logits, U-hat, V-hat). ``driving``: sample the
        atlas at this uint8 IUV instead of the predicted one (``texture_uv=driving``)."""
        f = self.trunk(torch.cat([source, p_s], 1))
        e_app, e_geo = self.e_app(f), self.e_geo(f)
        n = source.shape[0]
        vec = torch.cat([F.adaptive_avg_pool2d(self.squeeze(e_app), 4).flatten(1), alpha], 1)
        atlas = self.t_app(self.seed(vec).view(n, N_PARTS * self.c, 4, 4))
        atlas = atlas.view(n, N_PARTS, self.c, self.t, self.t)
        gamma, beta = self.film(rho)[..., None, None].chunk(2, 1)
        geo = self.t_geo(e_geo * (1 + gamma) + beta)
        u_hat = torch.sigmoid(geo[:, :N_PARTS])
        v_hat = torch.sigmoid(geo[:, N_PARTS : 2 * N_PARTS])
        s_logits = geo[:, 2 * N_PARTS :]
        if driving is None:
            z = texture_map(atlas, torch.softmax(s_logits, 1), u_hat, v_hat)
        else:
            part, u, v = iuv_parts(driving)
            probs = F.one_hot(part, N_PARTS + 1).permute(0, 3, 1, 2).float()
            rep = lambda a: a[:, None].expand(-1, N_PARTS, -1, -1)  # noqa: E731
            z = texture_map(atlas, probs, rep(u), rep(v))
        return z, torch.tanh(self.head_image(z)), self.head_mask(z), s_logits, u_hat, v_hat


class BlenderNet(nn.Module):
    def __init__(self, c_in: int, ngf: int, sr: int, norm: str = "instance") -> None:
        super().__init__()
        self.sr = sr
        self.body = nn.Sequential(
            conv_norm_act(c_in, ngf, 3, norm=norm), ResBlock(ngf, norm), ResBlock(ngf, norm)
        )
        self.head = nn.Conv2d(ngf, 4, 3, padding=1)
        self.sr_block = None
        if sr > 1:
            last = nn.Conv2d(ngf, 4, 3, padding=1)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.sr_block = nn.Sequential(conv_norm_act(ngf, ngf, 3, norm=norm), last)

    def forward(self, x: torch.Tensor):
        """-> (I_lo, m_lo logits, I_d, m_d logits); I_d at sr x the input's size."""
        h = self.body(x)
        out = self.head(h)
        lo, m_lo = torch.tanh(out[:, :3]), out[:, 3:]
        if self.sr_block is None:
            return lo, m_lo, lo, m_lo
        up = lambda a: F.interpolate(a, scale_factor=float(self.sr), mode="bilinear")  # noqa: E731
        res = self.sr_block(F.interpolate(h, scale_factor=float(self.sr), mode="nearest"))
        return lo, m_lo, up(lo) + res[:, :3], up(m_lo) + res[:, 3:]


class ResDown(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.LeakyReLU(0.2), nn.Conv2d(c_in, c_out, 3, padding=1),
            nn.LeakyReLU(0.2), nn.Conv2d(c_out, c_out, 3, padding=1), nn.AvgPool2d(2),
        )  # fmt: skip
        self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.AvgPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.skip(x)


class Discriminator(nn.Module):
    """ResNet-block patch critic; ``forward`` returns [[logits]] (``ptx.nn.losses``)."""

    def __init__(self, ndf: int, blocks: int) -> None:
        super().__init__()
        w = _widths(ndf, blocks)
        self.body = nn.Sequential(
            nn.Conv2d(3, w[0], 3, padding=1),
            *(ResDown(w[i], w[i + 1]) for i in range(blocks)),
            nn.LeakyReLU(0.2), nn.Conv2d(w[-1], 1, 3, padding=1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        return [[self.body(x)]]
