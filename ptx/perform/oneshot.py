"""One-shot rendering and its protocol: a picture of a person animated by a sequence of
driving conditions with a model trained on many people (``Method.kind`` one-shot).

- :func:`set_source`: hand the model its source picture (frame + IUV from a prepared
  store: a photo prepared by ``ptx prepare photo.jpg``, or a video's frame).
- :func:`self_reconstruction`: the one-shot protocol on a prepared video [DwNet §4, the
  usual protocol of one-shot methods]: the first frame is the source, every later frame
  drives (its IUV) and is the target. Per frame: PSNR and L1 of the output and of the
  warp-only baseline (the source warped by DwNet's coarse grid, the per-part nearest neighbour
  in UV space, ``ptx.body.meshflow.iuv_nearest_flow``: no network), and the
  temporal error: the mean absolute difference between the output's change from frame
  t-1 to t and the real video's change (0 for a video that flickers exactly as much as
  the real one; flicker and lag both raise it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ptx.body.meshflow import iuv_nearest_flow
from ptx.cache.store import VideoStore
from ptx.errors import InputError
from ptx.methods.base import ONE_SHOT
from ptx.nn.arrays import resize_array, resize_keypoints
from ptx.nn.poselabels import unit
from ptx.nn.warp import warp_backward
from ptx.perform.render import LoadedModel, StoreConditions, render_conditions


def require_one_shot(model: LoadedModel, what: str) -> None:
    if model.method.kind != ONE_SHOT:
        raise InputError(
            f"Run {model.run_dir} is a person-specific {model.method.name} model; {what} "
            "needs a one-shot model (trained with --subjects).",
            "Give --target SUBJECT for this run, or a one-shot run (ptx train --method dwnet "
            "--subjects ...).",
        )


def source_arrays(model: LoadedModel, store: VideoStore, index: int = 0) -> dict[str, torch.Tensor]:
    """Frame ``index`` of a prepared video at the model's frame: {frames, iuv} uint8
    (3, H, W)."""
    for name in ("frames", "iuv"):
        if not store.has(name):
            raise InputError(
                f"The picture's preparation has no '{name}' yet.",
                "Run `ptx prepare` on it until the iuv stage.",
            )
    return {
        n: resize_array(n, store.read(n, index, index + 1), model.frame)[0]
        for n in ("frames", "iuv")
    }


def set_source(model: LoadedModel, store: VideoStore, index: int = 0) -> None:
    require_one_shot(model, "animating a picture")
    src = source_arrays(model, store, index)
    model.renderer.set_source(src["frames"], src["iuv"])


@dataclass
class SelfRendered:
    """One video rendered by the one-shot protocol, at the model's frame, frames 1.."""

    output: np.ndarray
    """uint8 (n, H, W, 3)."""
    truth: np.ndarray
    warped: np.ndarray
    """uint8 (n, H, W, 3): the warp-only baseline."""
    mask: np.ndarray | None
    """uint8 (n, H, W) person mask x 255, when the video has one."""


@dataclass
class OneShotScores:
    psnr: np.ndarray
    """float (n,): dB per driven frame."""
    l1: np.ndarray
    """float (n,): mean absolute error in [0, 1] units."""
    warp_psnr: np.ndarray
    warp_l1: np.ndarray
    temporal: float
    """Mean |(out_t - out_{t-1}) - (real_t - real_{t-1})| in [0, 1] units."""
    warp_temporal: float


def _psnr_l1(a: torch.Tensor, b: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per image, float images in [0, 1] (n, 3, H, W)."""
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return (10 * torch.log10(1 / mse)).numpy(), (a - b).abs().mean(dim=(1, 2, 3)).numpy()


def temporal_error(out: np.ndarray, real: np.ndarray) -> float:
    """Mean |(out_t - out_{t-1}) - (real_t - real_{t-1})| of uint8 videos, in [0, 1]."""
    if len(out) < 2:
        return float("nan")
    o, r = out.astype(np.float32) / 255, real.astype(np.float32) / 255
    return float(np.abs((o[1:] - o[:-1]) - (r[1:] - r[:-1])).mean())


def warp_only(model: LoadedModel, src: dict[str, torch.Tensor], iuv: torch.Tensor) -> np.ndarray:
    """The warp-only baseline: the source picture ``src`` (``source_arrays``) warped by the
    coarse IUV grid into each driving IUV (uint8 (n, 3, H, W)); uint8 (n, H, W, 3)."""
    src_iuv = src["iuv"].permute(1, 2, 0).numpy()
    flow = torch.stack([
        torch.from_numpy(iuv_nearest_flow(src_iuv, t.permute(1, 2, 0).numpy()).flow).permute(2, 0, 1)
        for t in iuv
    ])  # fmt: skip
    warped, _ = warp_backward(unit(src["frames"][None]).expand(len(iuv), -1, -1, -1), flow)
    warped = ((warped.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return warped.permute(0, 2, 3, 1).numpy()


def model_keypoints(model: LoadedModel, store: VideoStore, a: int, b: int) -> np.ndarray:
    """float32 (b - a, 25, 3): the video's stored BODY_25 keypoints of frames [a, b) in
    pixels of the model's frame (joints not found: all 0)."""
    h, w = store.open_array("frames").shape[1:3]
    kp = resize_keypoints(store.read("keypoints", a, b)[:, :25], (h, w), model.frame).numpy()
    kp[kp[..., 2] <= 0] = 0.0
    return kp


@torch.inference_mode()
def render_driven(
    model: LoadedModel, source: VideoStore, driving: VideoStore, batch: int = 8
) -> SelfRendered:
    """``source``'s first frame animated by ``driving``'s frames 1.. (their IUV as they
    are), at the model's frame; ``truth`` and ``mask`` are the driving video's frames."""
    set_source(model, source, 0)
    n = driving.open_array("frames").shape[0]
    if n < 2:
        raise InputError(f"Video {driving.video_id} has one frame: nothing drives it.")
    cond = StoreConditions(driving, 1, n)
    out = np.concatenate([c.rgb for c in render_conditions(model, cond, batch=batch)])
    real = resize_array("frames", driving.read("frames", 1, n), model.frame)
    iuv = resize_array("iuv", driving.read("iuv", 1, n), model.frame)
    warped = warp_only(model, source_arrays(model, source, 0), iuv)
    mask = None
    if driving.has("mask"):
        mask = resize_array("mask", driving.read("mask", 1, n), model.frame)[:, 0].numpy()
    return SelfRendered(out, real.permute(0, 2, 3, 1).numpy(), warped, mask)


def render_self(model: LoadedModel, store: VideoStore, batch: int = 8) -> SelfRendered:
    """The one-shot protocol's renders of one prepared video (module docstring)."""
    return render_driven(model, store, store, batch)


def self_reconstruction(model: LoadedModel, store: VideoStore, batch: int = 8) -> OneShotScores:
    """PSNR, L1 and temporal error of the one-shot protocol on one video, and of the
    warp-only baseline (module docstring)."""
    r = render_self(model, store, batch)
    chw = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    p, l1 = _psnr_l1(chw(r.output), chw(r.truth))
    wp, wl1 = _psnr_l1(chw(r.warped), chw(r.truth))
    return OneShotScores(
        p, l1, wp, wl1, temporal_error(r.output, r.truth), temporal_error(r.warped, r.truth)
    )
