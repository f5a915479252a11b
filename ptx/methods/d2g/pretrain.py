"""UV pretraining: a person-agnostic UV generator trained on many prepared videos.

`ptx train --pretrain-uv --subjects a,b,c` trains the UV generator alone (part
cross-entropy + UV L1 against each frame's IUV) on every video of the subjects and writes
``<workspace>/runs/_pretrained/uv/<timestamp>/uv-generator.pt``. `ptx train` loads the
newest one whose architecture matches its config, instead of warming the UV generator up
on the subject itself.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from pathlib import Path
from typing import Any

import torch

from ptx import __version__
from ptx.cache.checkpoints import FORMAT_VERSION, load_checkpoint, write_atomic
from ptx.cache.workspace import Workspace, validate_name
from ptx.errors import InputError
from ptx.methods.d2g import losses as L
from ptx.methods.d2g.config import D2GConfig, resolve_config
from ptx.methods.d2g.renderer import pose_channels
from ptx.methods.d2g.uv_generator import UVGenerator
from ptx.training.data import BatchSampler
from ptx.training.log import NullTrainReporter, TrainReporter

UV_FORMAT = "ptx-d2g-uv-generator"
UV_FILE = "uv-generator.pt"
MATCH_FIELDS = (
    "size",
    "use_label3d",
    "pose_frames",
    "iuv_input",
    "uv_width",
    "uv_down",
    "uv_res",
    "width_cap",
    "prior_logit",
    "prior_offset",
)
"""Settings a pretrained UV generator must share with the run that loads it."""


def pretrained_dir(ws: Workspace) -> Path:
    return ws.root / "runs" / "_pretrained" / "uv"


def find_pretrained_uv(ws: Workspace, cfg: D2GConfig) -> tuple[dict[str, Any], Path] | None:
    """(UV generator weights, file) of the newest compatible pretrained one, or None."""
    base = pretrained_dir(ws)
    if not base.is_dir():
        return None
    for run in sorted((p for p in base.iterdir() if p.is_dir()), reverse=True):
        path = run / "checkpoints" / UV_FILE
        if not path.is_file():
            continue
        data = load_checkpoint(path, expected_format=UV_FORMAT)
        saved = data.get("config", {})
        if all(saved.get(k) == getattr(cfg, k) for k in MATCH_FIELDS):
            return data["uv_generator"], path
    return None


def make_uv_generator(cfg: D2GConfig) -> UVGenerator:
    return UVGenerator(
        pose_channels(cfg),
        cfg.uv_width,
        cfg.uv_down,
        cfg.uv_res,
        cap=cfg.width_cap,
        iuv_input=cfg.iuv_input,
        prior_logit=cfg.prior_logit,
        prior_offset=cfg.prior_offset,
    )


@dataclasses.dataclass
class PretrainResult:
    path: Path
    steps: int
    videos: int
    frames: int
    final: dict[str, float]
    """Last losses: part (cross-entropy), uv (L1), accuracy (part agreement on held-out)."""
    seconds: float


def pretrain_uv(
    workspace: Workspace | Path | str | None,
    subjects: list[str],
    preset: str = "tiny",
    overrides: dict[str, Any] | None = None,
    steps: int | None = None,
    reporter: TrainReporter | None = None,
) -> PretrainResult:
    """Train a person-agnostic UV generator on every video of ``subjects``."""
    from ptx.training.load import load_subject_data
    from ptx.training.loop import resolve_device

    if not subjects:
        raise InputError("--pretrain-uv needs subjects.", "Give them as --subjects a,b,c.")
    ws = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace, create=False)
    for s in subjects:
        validate_name(s)
    reporter = reporter or NullTrainReporter()
    cfg = resolve_config(preset, overrides)
    n_steps = steps if steps is not None else cfg.uv_pretrain_steps
    data = load_subject_data(ws, subjects, cfg)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    net = make_uv_generator(cfg).to(device)
    if cfg.channels_last:
        net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    sampler = BatchSampler(len(data.train_ids), cfg.batch, cfg.seed)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = pretrained_dir(ws) / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    reporter.start(run_dir, 0, n_steps)
    t0 = time.perf_counter()
    values: dict[str, float] = {}
    amp = device.type == "cuda" and cfg.amp
    for step in range(n_steps):
        b = data.batch(data.train_ids[sampler.next()], device)
        pose = b.pose.contiguous(memory_format=torch.channels_last) if cfg.channels_last else b.pose
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            logits, uv = net(pose, b.iuv)
            ce, l1 = L.uv_losses(logits, uv, b.part, b.uv)
        loss = cfg.w_part * ce + cfg.w_uv * l1
        if not bool(torch.isfinite(loss)):
            raise InputError(
                f"UV pretraining diverged at step {step + 1} (loss {float(loss)}).",
                "Lower --set lr=...",
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        values = {"part": float(ce.detach()), "uv": float(l1.detach())}
        reporter.step(step + 1, n_steps, values)
    values["accuracy"] = _part_accuracy(net, data, device)
    payload = {
        "uv_generator": net.state_dict(),
        "config": dataclasses.asdict(cfg),
        "subjects": list(subjects),
        "videos": [v.name for v in data.videos],
        "steps": n_steps,
        "final": values,
        "ptx_version": __version__,
    }
    final = run_dir / "checkpoints" / UV_FILE
    write_atomic(final, {"format": UV_FORMAT, "format_version": FORMAT_VERSION, **payload})
    reporter.end()
    return PretrainResult(
        final,
        n_steps,
        len(data.videos),
        int(data.frames.shape[0]),
        values,
        time.perf_counter() - t0,
    )


@torch.no_grad()
def _part_accuracy(net: UVGenerator, data: Any, device: torch.device) -> float:
    """Share of held-out (else training) person pixels whose predicted part is the IUV's."""
    ids = data.heldout_ids if len(data.heldout_ids) else data.train_frame_ids()
    hit = total = 0
    for chunk in ids[:64].split(8):
        x = data.images(chunk, device)
        logits, _ = net(x["pose"], x["iuv"])
        part = x["iuv"][:, 0].long()
        on = part > 0
        hit += int(((logits.argmax(1) == part) & on).sum())
        total += int(on.sum())
    return hit / max(total, 1)
