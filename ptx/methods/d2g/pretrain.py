"""UV pretraining: a person-agnostic UV generator trained on many prepared videos.

`ptx train --pretrain-uv --subjects a,b,c` trains the UV generator alone (part
cross-entropy + UV L1 against each frame's IUV) on every video of the subjects (the shared
job in ``ptx.training.pretrain`` drives :class:`UVPretrainer`) and writes
``<workspace>/runs/_pretrained/uv/<timestamp>/checkpoints/uv-generator.pt``. `ptx train`
loads the newest one whose architecture matches its config (the config's ``uv`` group of
settings), instead of warming the UV generator up on the subject itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ptx.cache.checkpoints import load_checkpoint
from ptx.errors import InputError
from ptx.methods.d2g import losses as L
from ptx.methods.d2g.config import UV_FIELDS, D2GConfig
from ptx.methods.d2g.renderer import build_uv_generator
from ptx.nn.optim import autocast
from ptx.nn.uv_generator import iuv_to_tensors

PART = "uv"
"""The pretrained part's folder under ``runs/_pretrained``."""
UV_FORMAT = "ptx-d2g-uv-generator"
UV_VERSION = 1
UV_FILE = "uv-generator.pt"


def pretrained_dir(root: Path) -> Path:
    """Where pretrained UV generators live in the workspace at ``root``."""
    return Path(root) / "runs" / "_pretrained" / PART


def find_pretrained_uv(root: Path, cfg: D2GConfig) -> tuple[dict[str, Any], Path] | None:
    """(UV generator weights, file) of the newest compatible pretrained one, or None."""
    base = pretrained_dir(root)
    if not base.is_dir():
        return None
    for run in sorted((p for p in base.iterdir() if p.is_dir()), reverse=True):
        path = run / "checkpoints" / UV_FILE
        if not path.is_file():
            continue
        data = load_checkpoint(path, expected_format=UV_FORMAT, version=UV_VERSION)
        saved = data.get("config", {})
        if all(saved.get(k) == getattr(cfg, k) for k in UV_FIELDS):
            return data["uv_generator"], path
    return None


def uv_start(workspace: Any, cfg: D2GConfig) -> tuple[dict | None, int, str]:
    """(pretrained UV weights or None, warm-up steps, a note saying which happened)."""
    found = find_pretrained_uv(workspace.root, cfg) if workspace is not None else None
    if found is not None:
        state, path = found
        return state, 0, f"UV generator: loaded the pretrained one from {path}."
    if cfg.uv_warmup_steps > 0:
        where = pretrained_dir(workspace.root) if workspace is not None else "the workspace"
        return (
            None,
            cfg.uv_warmup_steps,
            (
                f"UV generator: no compatible pretrained one in {Path(where).parent}; "
                f"warming it up on this subject for {cfg.uv_warmup_steps} steps first."
            ),
        )
    return None, 0, "UV generator: no pretrained one and uv_warmup_steps=0; trained from scratch."


class UVPretrainer:
    """The UV generator alone, on many subjects' frames (``ptx.training.pretrain`` drives
    it: batches, progress, the file it writes)."""

    part = PART
    file = UV_FILE
    format = UV_FORMAT
    version = UV_VERSION

    def __init__(self, cfg: D2GConfig, device: torch.device) -> None:
        self.cfg, self.device = cfg, device
        torch.manual_seed(cfg.seed)
        self.net = build_uv_generator(cfg).to(device)
        if cfg.channels_last:
            self.net.to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.amp = device.type == "cuda" and cfg.amp

    def default_steps(self) -> int:
        return self.cfg.uv_pretrain_steps

    def train_step(self, b: Any, step: int) -> dict[str, float]:
        cfg = self.cfg
        pose = b.pose.contiguous(memory_format=torch.channels_last) if cfg.channels_last else b.pose
        iuv = b.arrays["iuv"]
        part, uv_true = iuv_to_tensors(iuv)
        with autocast(self.amp):
            logits, uv = self.net(pose, iuv)
            ce, l1 = L.uv_losses(logits, uv, part, uv_true)
        loss = cfg.w_part * ce + cfg.w_uv * l1
        if not bool(torch.isfinite(loss)):
            raise InputError(
                f"UV pretraining diverged at step {step + 1} (loss {float(loss)}).",
                "Lower --set lr=...",
            )
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"part": float(ce.detach()), "uv": float(l1.detach())}

    @torch.no_grad()
    def summary(self, data: Any) -> dict[str, float]:
        """Part accuracy: the share of held-out (else training) person pixels whose
        predicted part is the IUV's."""
        ids = data.heldout_ids if len(data.heldout_ids) else data.train_frame_ids()
        hit = total = 0
        for chunk in ids[:64].split(8):
            x = data.images(chunk, self.device)
            logits, _ = self.net(x.pose, x.arrays["iuv"])
            part = x.arrays["iuv"][:, 0].long()
            on = part > 0
            hit += int(((logits.argmax(1) == part) & on).sum())
            total += int(on.sum())
        return {"accuracy": hit / max(total, 1)}

    def payload(self) -> dict[str, Any]:
        return {"uv_generator": self.net.state_dict()}
