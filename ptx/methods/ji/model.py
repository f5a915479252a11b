"""Ji et al.'s generator as one module: Eq. 1-9 from the source picture, its IUV and the
driving IUV to the output, and which parts each training stage updates.

A branch ablation (``branches``) builds only what it uses [002 Tab. III]: ``flow`` has
no 2.5D branch, ``texture`` no 2D branch and no MotionNet decoder (only its encoder, for
alpha and rho). BlenderNet's input is what is there: (z_geo, z_app, I_app), or (z_app,
I_app), or (z_geo, I_geo).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from ptx.methods.ji.nets import (
    BlenderNet,
    MotionNet,
    TextureBranch,
    WarpBranch,
    encode_iuv,
    shrink,
    small,
)


class JiNet(nn.Module):
    def __init__(self, cfg: Any) -> None:
        super().__init__()
        self.sr = int(cfg.sr)
        self.flow = cfg.branches in ("both", "flow")
        self.texture = cfg.branches in ("both", "texture")
        self.driving_uv = cfg.texture_uv == "driving"
        norm = str(cfg.norm)
        self.motion = MotionNet(cfg.ngf, cfg.alpha_dim, cfg.rho_dim, self.flow, norm)
        self.warp = WarpBranch(cfg.ngf, norm) if self.flow else None
        self.tex = (
            TextureBranch(cfg.ngf, cfg.alpha_dim, cfg.rho_dim, cfg.tex_channels, cfg.tex_size, norm)
            if self.texture
            else None
        )
        c_in = 3 + (cfg.tex_channels if self.texture else 0) + (cfg.ngf if self.flow else 0)
        self.blender = BlenderNet(c_in, cfg.ngf, self.sr, norm)

    def trained_in(self, stage: str) -> list[nn.Module]:
        """The modules stage ``stage`` updates [002 §IV] (``config.STAGES``)."""
        if stage == "geometry":
            return [self.tex, *self.motion.encoder_modules()]
        if stage == "motion":
            return [self.motion, self.warp]
        if stage == "blend":
            return [self.blender]
        return [self]

    def forward(self, source: torch.Tensor, src_iuv: torch.Tensor, iuv: torch.Tensor,
                stage: str = "joint") -> dict[str, torch.Tensor]:  # fmt: skip
        """``source``: float (n, 3, H, W) in [-1, 1] at the output frame; ``src_iuv``,
        ``iuv``: uint8 (n, 3, H, W) at that frame. Returns the named outputs (module
        docstring); images at the input resolution (H/sr) except ``out``/``out_mask``.
        Stage ``geometry`` stops after the 2.5D branch, ``motion`` after the 2D branch;
        ``blend`` runs everything before BlenderNet without gradients."""
        x = shrink(source, self.sr)
        drv = small(iuv, self.sr)
        p_s, p_d = encode_iuv(small(src_iuv, self.sr)), encode_iuv(drv)
        r: dict[str, torch.Tensor] = {}
        with torch.no_grad() if stage == "blend" else nullcontext():
            alpha, rho, flows, occs = self.motion(x, p_s, p_d, decode=stage != "geometry")
            if self.flow and stage != "geometry":
                assert self.warp is not None
                r["z_app"], r["app"], r["app_mask"] = self.warp(x, flows, occs)
                r.update({f"flow{i}": f for i, f in enumerate(flows)})
                r.update({f"occ{i}": o for i, o in enumerate(occs)})
            if self.texture and stage != "motion":
                assert self.tex is not None
                z, r["geo"], r["geo_mask"], r["s_logits"], r["u"], r["v"] = self.tex(
                    x, p_s, alpha, rho, drv if self.driving_uv else None
                )
                r["z_geo"] = z
        if stage in ("geometry", "motion"):
            return r
        parts = []
        if self.texture:
            parts.append(r["z_geo"])
        if self.flow:
            parts += [r["z_app"], r["app"]]
        else:
            parts.append(r["geo"])
        r["lo"], r["lo_mask"], r["out"], r["out_mask"] = self.blender(torch.cat(parts, 1))
        return r
