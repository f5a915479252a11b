"""Fit a body model to a video's 2D keypoints and person masks (torch, batched over frames).

Unknowns: one shape per video, and per frame the 24 joint rotations (the root rotation
is the body's orientation in camera space) and the root's position; the camera is a
fixed pinhole (``camera`` = focal, cx, cy in pixels). The energy, in units of the frame
size:

- keypoints: Geman-McClure robust distance between the model's BODY_25 points and the
  detections, weighted by confidence (outliers stop pulling beyond ~``robust_sigma``; the
  scale starts wide and shrinks, so that a far but true keypoint, such as the wrist of a
  fully bent arm, is reached before it could be taken for an outlier);
- silhouette agreement with the mask (``ptx.body.silhouette``);
- pose and shape priors (``ptx.body.priors``);
- temporal smoothness of the 3D joints between consecutive frames.

Three stages, as in SMPLify: a rigid stage that places the body from the torso and head
points (from four starting orientations per frame, keeping the best, so that people seen
from the side or the back are not fitted facing the camera), then all parameters on
keypoints and priors, then everything with the silhouette. Each frame's starting
orientation is chosen jointly over the video (Viterbi, with a cost for turning between
frames), so that a few bad keypoints cannot flip a single frame round.
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ptx.body.adam import adam as _adam
from ptx.body.fit_config import FitConfig
from ptx.body.model import BodyModel, TorchBody, project
from ptx.body.priors import gmof, pose_prior_frames, shape_prior
from ptx.body.rotation import axis_angle_to_matrix, matrix_to_axis_angle, rotation_np
from ptx.body.silhouette import (
    SilhouetteTargets,
    concat_targets,
    nearest_vertices,
    silhouette_frames,
    silhouette_targets,
)
from ptx.cache.frame import as_shape

DEFAULT_FOCAL = 0.9
"""Focal length assumed when none is known, in units of the frame size."""

_RIGID_KP = [0, 1, 2, 5, 8, 9, 12, 15, 16, 17, 18]
"""Torso and head keypoints (BODY_25 indices) used to place the body."""


@dataclass
class BodyFit:
    """A fitted body (numpy, float32)."""

    betas: np.ndarray
    """(B,)"""
    pose: np.ndarray
    """(T, 24, 3) axis-angle; joint 0 is the orientation in camera space."""
    transl: np.ndarray
    """(T, 3) root position in camera coordinates (m)."""
    camera: np.ndarray
    """(T, 3) focal, cx, cy in pixels."""
    keypoints: np.ndarray
    """(T, 25, 3) the fitted model's BODY_25 points in pixels, confidence 1."""
    error: np.ndarray
    """(T,) mean distance (px) between fitted and detected confident keypoints (NaN when a
    frame has none)."""


def default_camera(size: int | tuple[int, int], n: int) -> np.ndarray:
    """(n, 3) the assumed camera of a frame of ``size`` (H, W) (or the side of a square):
    focal ``DEFAULT_FOCAL`` x its long side, centred."""
    h, w = as_shape(size)
    f = DEFAULT_FOCAL * max(h, w)
    return np.tile(np.array([f, w / 2, h / 2], np.float32), (n, 1))


def _facing(yaw: float) -> np.ndarray:
    """Axis-angle of a body turned by ``yaw`` from facing the camera."""
    return matrix_to_axis_angle(rotation_np("x", math.pi) @ rotation_np("y", yaw))


def _rest_keypoints(body: TorchBody, betas: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        z = torch.zeros(1, 24, 3, dtype=betas.dtype, device=betas.device)
        out = body.forward(betas, z, torch.zeros(1, 3, dtype=betas.dtype, device=betas.device))
        return out.keypoints[0].cpu().numpy()


def _initial_translation(kp: np.ndarray, conf: np.ndarray, rest_kp: np.ndarray, cam: np.ndarray):
    """(T, 3) root positions from the torso's image size and the mid-hip position."""
    n = len(kp)
    torso_model = np.linalg.norm(rest_kp[1] - rest_kp[8])
    height_model = rest_kp[:, 1].max() - rest_kp[:, 1].min()
    out = np.zeros((n, 3), np.float32)
    for t in range(n):
        ok = conf[t] > 0
        f, cx, cy = cam[t]
        if ok[1] and ok[8]:
            depth = f * torso_model / max(np.linalg.norm(kp[t, 1] - kp[t, 8]), 1.0)
        elif ok.sum() >= 2:
            extent = np.ptp(kp[t, ok, 1]) + 1.0
            depth = f * height_model / max(extent, 1.0) * 0.8
        else:
            depth = 3.0
        centre = kp[t, 8] if ok[8] else (kp[t, ok].mean(0) if ok.any() else (cx, cy))
        out[t] = [(centre[0] - cx) * depth / f, (centre[1] - cy) * depth / f - 0.07, depth]
    return out


class _Problem:
    """Tensors shared by the stages. The frames may belong to several independent
    sequences (``lengths``, consecutive in the tensors): each has its own energy (its own
    means, smoothness within it only) and the optimiser minimises their sum, so that each
    sequence follows the path it would alone (Adam's steps are per parameter) while torch's
    cost per operation is paid once for all of them."""

    def __init__(self, body, kp, conf, camera, size, sil, cfg, smooth, lengths=None):
        self.body, self.cfg, self.size, self.sil, self.smooth = body, cfg, size, sil, smooth
        self.kp, self.conf, self.camera = kp, conf, camera
        self.sil_ids = body.model.sample_vertices(cfg.silhouette_points) if sil else None
        self.nearest: torch.Tensor | None = None
        lengths = list(lengths or [len(kp)])
        self.lengths = lengths
        dev = kp.device
        self.group = torch.repeat_interleave(
            torch.arange(len(lengths), device=dev), torch.as_tensor(lengths, device=dev)
        )
        self.count = torch.as_tensor(lengths, dtype=kp.dtype, device=dev)
        same = self.group[1:] == self.group[:-1]  # consecutive frames of one sequence
        self.pair_group = self.group[1:][same]
        self.pair_ok = same
        self.pairs = torch.zeros(len(lengths), dtype=kp.dtype, device=dev).index_add_(
            0, self.pair_group, torch.ones_like(self.pair_group, dtype=kp.dtype)
        )

    def per_sequence(self, x: torch.Tensor, group=None, count=None) -> torch.Tensor:
        """(G,) the mean of per-frame values ``x`` over each sequence."""
        group = self.group if group is None else group
        count = self.count if count is None else count
        total = x.new_zeros(len(self.lengths)).index_add_(0, group, x)
        return total / count.clamp_min(1)

    def keypoint_loss(self, keypoints, idx=None, rows=None, sigma=None) -> torch.Tensor:
        proj = project(keypoints, self.camera if rows is None else self.camera[rows])
        obs = self.kp if rows is None else self.kp[rows]
        conf = self.conf if rows is None else self.conf[rows]
        if idx is not None:
            proj, obs, conf = proj[:, idx], obs[:, idx], conf[:, idx]
        r = ((proj - obs) / self.size).norm(dim=-1)
        per_frame = (conf * gmof(r, sigma or self.cfg.robust_sigma)).sum(1)
        return per_frame

    def energy(self, betas, pose, transl, use_sil: bool, sigma=None, step: int = 0):
        """(G,) each sequence's energy. With the silhouette, the vertex nearest to each
        outline point is searched again every ``silhouette_refresh`` steps (ICP-like: in
        between, the points are measured to the vertices they were matched with)."""
        cfg = self.cfg
        out = self.body.forward(betas, pose, transl, vertex_ids=self.sil_ids if use_sil else None)
        e = self.per_sequence(self.keypoint_loss(out.keypoints, sigma=sigma))
        e = e + cfg.w_pose * self.per_sequence(pose_prior_frames(pose))
        e = e + cfg.w_shape * shape_prior(betas)
        if self.smooth and len(self.pair_group):
            vel = (out.joints[1:] - out.joints[:-1]).pow(2).sum(-1).mean(-1)[self.pair_ok]
            e = e + cfg.w_smooth * self.per_sequence(vel, self.pair_group, self.pairs)
        if use_sil:
            proj = project(out.vertices, self.camera)
            if self.nearest is None or step % max(cfg.silhouette_refresh, 1) == 0:
                self.nearest = nearest_vertices(proj, self.sil)
            valid = self.sil.valid
            per = self.per_sequence(silhouette_frames(proj, self.sil, nearest=self.nearest) * valid)
            seen = self.per_sequence(valid)  # per_sequence divides both by the frame count
            e = e + cfg.w_silhouette * per / seen.clamp_min(1 / self.count.clamp_min(1))
        return e


def _annealed(cfg: FitConfig, done: float) -> float:
    """Robust scale shrinking from ``start_sigma`` to ``robust_sigma`` over the first 70% of
    a stage: far keypoints pull at first (a fully bent elbow is not an outlier), and only
    the ones still far at the end are treated as outliers."""
    f = min(done / 0.7, 1.0)
    return cfg.start_sigma * (cfg.robust_sigma / cfg.start_sigma) ** f


def _rigid(prob: _Problem, betas: torch.Tensor, transl0: np.ndarray) -> tuple:
    """Place the body: best of four orientations per frame. The limbs are held in a rest
    pose, so the keypoints are one rigid point set moved by each frame's rotation and
    translation (no skinning in the loop)."""
    n, dev = len(transl0), prob.kp.device
    yaws = (0.0, math.pi / 2, math.pi, -math.pi / 2)
    k = len(yaws)
    with torch.no_grad():
        rest = prob.body.forward(betas, _arms_down(1, dev), torch.zeros(1, 3, device=dev))
        root = rest.joints[0, 0]
        local = rest.keypoints[0] - root  # (25, 3) around the root joint
    aa = torch.tensor(
        np.concatenate([np.tile(_facing(y), (n, 1)) for y in yaws]), dtype=torch.float32
    ).to(dev)
    aa.requires_grad_(True)
    transl = torch.tensor(np.tile(transl0, (k, 1)), dtype=torch.float32, device=dev)
    transl.requires_grad_(True)
    rows = torch.arange(n, device=dev).repeat(k)

    def loss_per_frame():
        pts = (axis_angle_to_matrix(aa)[:, None] @ local[None, :, :, None])[..., 0]
        return prob.keypoint_loss(pts + (root + transl)[:, None], _RIGID_KP, rows)

    _adam([aa, transl], prob.cfg.rigid_iters, prob.cfg.lr, lambda *_: loss_per_frame())
    with torch.no_grad():
        cost = loss_per_frame().reshape(k, n).cpu().numpy()
        rot = axis_angle_to_matrix(aa).reshape(k, n, 3, 3).cpu().numpy()
    turn = prob.cfg.turn_cost if prob.smooth else 0.0
    ends = np.cumsum([0, *prob.lengths])
    best = np.concatenate([
        _consistent_choice(cost[:, a:b], rot[:, a:b], turn) for a, b in itertools.pairwise(ends)
    ])  # fmt: skip
    pick = torch.as_tensor(best * n + np.arange(n), device=dev)
    return aa[pick].detach(), transl[pick].detach()


def _consistent_choice(cost: np.ndarray, rot: np.ndarray, turn_cost: float) -> np.ndarray:
    """Pick one of K placements per frame (``cost`` (K, T), rotations ``rot`` (K, T, 3, 3)),
    minimising the costs plus ``turn_cost`` per radian turned between consecutive frames
    (Viterbi), so that a few bad keypoints cannot flip one frame round."""
    k, n = cost.shape
    if turn_cost <= 0 or n < 2:
        return cost.argmin(0)
    total = cost[:, 0].copy()
    back = np.zeros((n, k), np.int64)
    for t in range(1, n):
        rel = np.einsum("aji,bjk->abik", rot[:, t - 1], rot[:, t])
        cos = np.clip((np.trace(rel, axis1=2, axis2=3) - 1) / 2, -1, 1)
        step = total[:, None] + turn_cost * np.arccos(cos)  # (from, to)
        back[t] = step.argmin(0)
        total = step.min(0) + cost[:, t]
    path = np.zeros(n, np.int64)
    path[-1] = total.argmin()
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _arms_down(n: int, device) -> torch.Tensor:
    pose = torch.zeros(n, 24, 3, device=device)
    pose[:, 16, 2], pose[:, 17, 2] = -1.0, 1.0
    pose[:, 18, 1], pose[:, 19, 1] = -0.3, 0.3
    return pose


def fit_body(
    model: BodyModel,
    keypoints: np.ndarray,
    size: int | tuple[int, int],
    mask: np.ndarray | None = None,
    camera: np.ndarray | None = None,
    cfg: FitConfig | None = None,
    betas: np.ndarray | None = None,
    consecutive: bool = True,
    device: str | torch.device = "cpu",
) -> BodyFit:
    """Fit ``model`` to ``keypoints`` float (T, 25, 3) (pixels + confidence) of frames of
    ``size`` (H, W) (or the side of a square), and to ``mask`` uint8 (T, H, W) when given.
    Distances are measured in units of the frame's long side.

    ``camera`` (T, 3) or (3,) defaults to :func:`default_camera`. With ``betas`` (B,) the
    shape is held fixed. ``consecutive`` = the frames follow each other in time (enables
    temporal smoothness)."""
    seq = [(keypoints, mask, camera)]
    return fit_bodies(model, seq, size, cfg, betas, consecutive, device, _free=True)[0]


def fit_bodies(
    model: BodyModel,
    sequences: list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]],
    size: int | tuple[int, int],
    cfg: FitConfig | None = None,
    betas: np.ndarray | None = None,
    consecutive: bool = True,
    device: str | torch.device = "cpu",
    _free: bool = False,
) -> list[BodyFit]:
    """Fit several independent sequences (keypoints, mask, camera as in :func:`fit_body`)
    of one body shape ``betas`` at once: each gets the fit it would get alone, while the
    per-operation cost of torch, which dominates at a few dozen frames, is paid once.
    Masks are given for all sequences or for none."""
    cfg = cfg or FitConfig()
    if betas is None and not (_free and len(sequences) == 1):
        raise ValueError("fit_bodies needs a fixed shape (betas) for several sequences")
    return fit_batches(model, [sequences], size, cfg, betas, consecutive, device)[0]


def fit_batches(
    model: BodyModel,
    batches: list[list[tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]],
    size: int | tuple[int, int],
    cfg: FitConfig | None = None,
    betas: np.ndarray | None = None,
    consecutive: bool = True,
    device: str | torch.device = "cpu",
    workers: int = 1,
) -> list[list[BodyFit]]:
    """:func:`fit_bodies` for each batch of sequences, on the CPU up to ``workers`` batches
    at once on threads of their own (each batch's torch operations run on one core, and
    torch lets go of the GIL inside them). A batch's result does not depend on which
    others run beside it. Measured on the 267 frames of a real clip's four windows: two
    batches of two on two threads took 2.0 s against 2.9-3.3 s for one batch of four, with
    bit-identical fits."""
    cfg = cfg or FitConfig()
    if betas is None and (len(batches) > 1 or any(len(b) > 1 for b in batches)):
        raise ValueError("fit_batches needs a fixed shape (betas) for several sequences")
    dev = torch.device(device)

    def one(sequences: list) -> list[BodyFit]:
        return _fit(model, sequences, size, cfg, betas, consecutive, dev)

    if dev.type != "cpu":
        return [one(b) for b in batches]
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, cfg.threads))
    try:
        if workers <= 1 or len(batches) <= 1:
            return [one(b) for b in batches]
        with ThreadPoolExecutor(min(workers, len(batches)), "ptx-fit") as pool:
            return list(pool.map(one, batches))
    finally:
        torch.set_num_threads(before)


def _fit(model, sequences, size, cfg, betas, consecutive, dev) -> list[BodyFit]:
    lengths = [len(kp) for kp, _, _ in sequences]
    body = TorchBody(model, dev)
    cams = []
    for (_, _, camera), n in zip(sequences, lengths):
        cam = default_camera(size, n) if camera is None else np.broadcast_to(camera, (n, 3))
        cams.append(np.array(cam, np.float32))
    cam = np.concatenate(cams)
    kp = np.concatenate([np.asarray(k, np.float32) for k, _, _ in sequences])
    conf = np.where(kp[..., 2] >= cfg.min_confidence, kp[..., 2], 0.0) * model.kp_weight
    masks = [m for _, m, _ in sequences]
    sil: SilhouetteTargets | None = None
    if all(m is not None for m in masks) and cfg.silhouette_iters > 0:
        sil = concat_targets([silhouette_targets(m, device=str(dev)) for m in masks])
    prob = _Problem(
        body,
        torch.from_numpy(kp[..., :2]).to(dev),
        torch.from_numpy(conf.astype(np.float32)).to(dev),
        torch.from_numpy(cam).to(dev),
        max(as_shape(size)),
        sil,
        cfg,
        consecutive,
        lengths,
    )
    free_shape = betas is None
    b = torch.zeros(model.n_betas, device=dev) if free_shape else torch.as_tensor(betas).to(dev)
    b = b.float().clone().requires_grad_(free_shape)
    transl0 = _initial_translation(kp[..., :2], conf, _rest_keypoints(body, b.detach()), cam)
    root, transl = _rigid(prob, b.detach(), transl0)
    pose = _arms_down(len(kp), dev)
    pose[:, 0] = root
    pose.requires_grad_(True)
    transl = transl.clone().requires_grad_(True)
    params = [pose, transl] + ([b] if free_shape else [])
    _adam(
        params,
        cfg.pose_iters,
        cfg.lr,
        lambda i, done: prob.energy(b, pose, transl, False, _annealed(cfg, done)),
        prob.group,
        cfg.settled,
        cfg.settle_window,
        0.7,
    )
    if sil is not None:
        _adam(
            params,
            cfg.silhouette_iters,
            cfg.lr * 0.5,
            lambda i, _: prob.energy(b, pose, transl, True, step=i),
            prob.group,
            cfg.settled,
            cfg.settle_window,
            0.5,
        )
    fit = _result(prob, b.detach(), pose.detach(), transl.detach(), kp, conf)
    ends = np.cumsum([0, *lengths])
    return [
        BodyFit(fit.betas, *(x[a:e] for x in (fit.pose, fit.transl, fit.camera, fit.keypoints,
                                               fit.error)))
        for a, e in itertools.pairwise(ends)
    ]  # fmt: skip


def _result(prob: _Problem, betas, pose, transl, kp: np.ndarray, conf: np.ndarray) -> BodyFit:
    with torch.no_grad():
        out = prob.body.forward(betas, pose, transl)
        proj = project(out.keypoints, prob.camera).cpu().numpy()
    dist = np.linalg.norm(proj - kp[..., :2], axis=-1)
    seen = conf > 0
    with np.errstate(invalid="ignore"):
        err = np.where(seen.any(1), (dist * seen).sum(1) / seen.sum(1), np.nan)
    kp_out = np.concatenate([proj, np.ones(proj.shape[:2] + (1,))], -1)
    return BodyFit(
        betas=betas.cpu().numpy().astype(np.float32),
        pose=pose.cpu().numpy().astype(np.float32),
        transl=transl.cpu().numpy().astype(np.float32),
        camera=prob.camera.cpu().numpy().astype(np.float32),
        keypoints=kp_out.astype(np.float32),
        error=err.astype(np.float32),
    )
