"""Rendering with a trained D2G model: load a run, feed it pose conditions, composite.

The conditions of a sequence come from a :class:`ConditionSource` (a subject's own prepared
arrays, or a retargeted source video) in chunks of frames at any square size; they are
resized to the model's resolution exactly as training resized them, stacked into pose
labels for frames t, t-1, t-2 (the first frame repeats at the start, as in training), and
rendered in batches. Memory does not grow with the sequence's length.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from ptx.cache.checkpoints import latest_checkpoint, load_checkpoint
from ptx.cache.store import VideoStore
from ptx.cache.workspace import Workspace, validate_name
from ptx.errors import InputError
from ptx.methods.d2g.config import D2GConfig, config_from_dict
from ptx.methods.d2g.renderer import D2GRenderer
from ptx.training.data import resize_array
from ptx.training.loop import resolve_device
from ptx.training.run import latest_run, read_run_config, runs_dir


@dataclass
class LoadedModel:
    """A trained renderer ready for inference."""

    renderer: D2GRenderer
    cfg: D2GConfig
    run_dir: Path
    checkpoint: Path
    step: int
    device: torch.device
    videos: list[dict]
    """The training videos (their order is the order of the learned backgrounds)."""


def resolve_run(ws: Workspace, subject: str, run: str | Path | None = None) -> Path:
    """The run folder: ``run`` as a path or a run name under the subject's runs, else the
    newest run with a checkpoint."""
    validate_name(subject)
    if run is not None:
        for cand in (Path(run), runs_dir(ws, subject) / str(run)):
            if cand.is_dir():
                return cand
        raise InputError(
            f"No run {run} for subject '{subject}'.",
            f"See the runs in {runs_dir(ws, subject)}, or leave --run out for the newest.",
        )
    found = latest_run(ws, subject)
    if found is None:
        raise InputError(
            f"Subject '{subject}' has no trained run in {ws.root}.",
            f"Train one first: ptx train --subject {subject}",
        )
    return found


def load_model(run_dir: Path, device: str = "auto") -> LoadedModel:
    """Load the run's newest checkpoint (as data only) into an eval-mode renderer."""
    ckpt = latest_checkpoint(run_dir / "checkpoints")
    if ckpt is None:
        raise InputError(f"Run {run_dir} has no checkpoint yet.", "Let `ptx train` finish a step.")
    data = load_checkpoint(ckpt)
    cfg = config_from_dict(data["config"])
    state = data["generator"]
    dev = resolve_device(device)
    renderer = D2GRenderer(cfg, n_backgrounds=int(state["background"].shape[0]))
    renderer.load_state_dict(state)
    renderer.to(dev).eval()
    try:
        videos = read_run_config(run_dir).get("videos", [])
    except InputError:
        videos = []
    return LoadedModel(renderer, cfg, run_dir, ckpt, int(data.get("step", 0)), dev, videos)


class ConditionSource(Protocol):
    """Per-frame conditions of a sequence, square arrays of one size."""

    def __len__(self) -> int: ...

    def chunk(self, start: int, stop: int) -> dict[str, np.ndarray | None]:
        """``skeleton`` uint8 (n, S, S, 3), ``label3d`` uint8 (n, S, S, 3) or None,
        ``iuv`` uint8 (n, S, S, 3) for frames [start, stop)."""
        ...


class StoreConditions:
    """Conditions read from a prepared video's store (a subject's own frames)."""

    def __init__(self, store: VideoStore, start: int = 0, stop: int | None = None) -> None:
        self.store = store
        total = store.open_array("poselabel").shape[0]
        self.start, self.stop = start, total if stop is None else min(stop, total)
        self.has_label3d = store.has("label3d")

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def chunk(self, start: int, stop: int) -> dict[str, np.ndarray | None]:
        a, b = self.start + start, self.start + stop
        return {
            "skeleton": self.store.read("poselabel", a, b),
            "label3d": self.store.read("label3d", a, b) if self.has_label3d else None,
            "iuv": self.store.read("iuv", a, b),
        }


@dataclass
class RenderedChunk:
    start: int
    rgb: np.ndarray
    """uint8 (n, S, S, 3): the composite (or the foreground when rendering with alpha)."""
    alpha: np.ndarray
    """uint8 (n, S, S): person opacity x 255."""


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x.float() * (2.0 / 255.0) - 1.0


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (n, C, S, S) in [-1, 1] -> uint8 (n, S, S, C)."""
    y = ((x.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)
    return y.permute(0, 2, 3, 1).cpu().numpy()


@torch.inference_mode()
def render_conditions(
    model: LoadedModel,
    source: ConditionSource,
    background: np.ndarray | None = None,
    video: int = 0,
    batch: int = 8,
    foreground_only: bool = False,
) -> Iterator[RenderedChunk]:
    """Render every frame of ``source``.

    ``background``: uint8 (S', S', 3) to composite over (resized to the model size), or None
    for the learned background of training video ``video``. With ``foreground_only`` the
    chunks carry the person's colours (for output with alpha) instead of the composite."""
    cfg, dev, size = model.cfg, model.device, model.cfg.size
    bg = None
    if background is not None:
        bg = _unit(resize_array("background", background[None], size).to(dev))
    context: list[torch.Tensor] = []  # per-frame pose channels of the previous frames
    for start in range(0, len(source), batch):
        stop = min(start + batch, len(source))
        got = source.chunk(start, stop)
        per_frame = resize_array("poselabel", got["skeleton"], size)
        if cfg.use_label3d:
            if got["label3d"] is None:
                raise InputError("This model was trained with 3D labels; the source has none.")
            per_frame = torch.cat([per_frame, resize_array("label3d", got["label3d"], size)], 1)
        frames = [*context, *per_frame.unbind(0)]
        n_ctx = len(context)
        labels = []
        for i in range(stop - start):
            cur = n_ctx + i
            stack = [frames[max(cur - k, 0)] for k in range(cfg.pose_frames)]
            labels.append(torch.cat(stack, 0))
        pose = _unit(torch.stack(labels).to(dev))
        iuv = resize_array("iuv", got["iuv"], size).to(dev) if cfg.iuv_input else None
        vid = torch.full((len(pose),), video, dtype=torch.long, device=dev)
        out = model.renderer(pose, iuv, video=vid, background=bg)
        context = frames[-(cfg.pose_frames - 1) :] if cfg.pose_frames > 1 else []
        alpha = (out.alpha.clamp(0, 1) * 255).round().to(torch.uint8)[:, 0].cpu().numpy()
        rgb = out.fg if foreground_only else out.output
        yield RenderedChunk(start, _to_uint8(rgb), alpha)


def render_fps(model: LoadedModel, source: ConditionSource, frames: int = 32) -> float:
    """Model-only render speed (frames/s) over the first ``frames`` frames."""
    n = min(frames, len(source))
    t0 = time.perf_counter()
    for _ in render_conditions(model, _Head(source, n)):
        pass
    return n / max(time.perf_counter() - t0, 1e-9)


class _Head:
    def __init__(self, source: ConditionSource, n: int) -> None:
        self.source, self.n = source, n

    def __len__(self) -> int:
        return self.n

    def chunk(self, start: int, stop: int) -> dict[str, np.ndarray | None]:
        return self.source.chunk(start, stop)


def render_subject(
    ws: Workspace,
    subject: str,
    output: Path,
    run: str | None = None,
    frames: str = "heldout",
    device: str = "auto",
    poses: str | None = None,
    pose_fps: float | None = None,
) -> tuple[Path, int, float]:
    """Render a subject's own frames (``heldout``: the tail never trained on; ``all``) of
    its first video, or with ``poses`` = ``openpose:DIR`` a pose sequence from OpenPose JSON
    (at ``pose_fps``, default the subject's rate), into ``output`` (mp4). Returns (path,
    frames, frames/s)."""
    from ptx.io.writer import VideoWriter

    if frames not in ("heldout", "all"):
        raise InputError(f"Unknown --frames {frames!r}.", "Use heldout or all.")
    model = load_model(resolve_run(ws, subject, run), device)
    videos = ws.subject(subject)["videos"]
    store = VideoStore(ws, videos[0])
    fps = float(store.meta("extract")["fps"])
    if poses is not None:
        from ptx.io.openpose import read_openpose_frames
        from ptx.perform.retarget_render import PoseSequenceConditions

        if not poses.startswith("openpose:"):
            raise InputError(f"Cannot read --poses {poses!r}.", "Write it as openpose:DIR.")
        keypoints, _ = read_openpose_frames(Path(poses.split(":", 1)[1]).expanduser())
        source: ConditionSource = PoseSequenceConditions(keypoints, store)
        fps = pose_fps or fps
    else:
        n = store.open_array("poselabel").shape[0]
        start = 0
        if frames == "heldout":
            span = next((v for v in model.videos if v.get("video") == videos[0]), None)
            held = n - max(1, round(n * model.cfg.holdout))
            start = int(span["heldout_frames"][0]) if span else held
        source = StoreConditions(store, start, n)
    t0, count = time.perf_counter(), 0
    with VideoWriter(output, fps, (model.cfg.size, model.cfg.size)) as writer:
        for chunk in render_conditions(model, source):
            for img in chunk.rgb:
                writer.write(img)
                count += 1
    return output, count, count / max(time.perf_counter() - t0, 1e-9)
