"""Pose conditions for a retargeted motion, in the target's canonical frame.

``3d``: the source's fitted per-frame pose drives a body of the target's fitted shape; its
placement comes from the 2D normalisation of the source's motion onto the target's ground
line and range of motion (:func:`ptx.perform.retarget.normalize_2d` applied to the posed
body's keypoints), turned into depth (image scale) and image position under the target's
camera. The body is rendered into IUV and 3D labels and its projected BODY_25 keypoints
are drawn as the skeleton.

``2d`` / ``none``: the source's keypoints normalised (or not) and drawn as the skeleton;
the source's IUV and 3D labels are moved by the same per-frame scale and shift.

The target's canonical frame (H, W) decides the output. When the source's canonical frame
has another shape or aspect, its pixels are first mapped into the target's frame by one
scale that fits the whole source frame inside it, centred (:func:`fit_inside`); the
retargeting then places the motion on the target's ground line (``2d``, ``3d``) or leaves
it there (``none``).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ptx.body.load import load_body_model
from ptx.body.model import BodyModel, TorchBody, posed_numpy, project
from ptx.body.render import render_sequence
from ptx.body.skeleton import draw_skeleton
from ptx.cache.store import VideoStore
from ptx.errors import InputError
from ptx.perform.retarget import normalize_2d

MODES = ("3d", "2d", "none")


def frame_of(store: VideoStore) -> tuple[int, int]:
    """(H, W) of a prepared video's canonical frames."""
    shape = store.open_array("frames").shape
    return int(shape[1]), int(shape[2])


def fitted_body(store: VideoStore) -> tuple[BodyModel, TorchBody, np.ndarray]:
    """The body model a video was fitted with (loaded from the spec the fit recorded: the
    SMPL file's absolute path, not just its name), its torch form, and the fitted shape."""
    meta = store.meta("fit")
    model = load_body_model(meta.get("body_spec") or meta.get("body") or "open")
    return model, TorchBody(model), store.read("body/shape")


def _project_np(points: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """(T, N, 3) camera-space points, (T, 3) cameras -> (T, N, 2) pixels."""
    return project(torch.from_numpy(points), torch.from_numpy(camera)).numpy()


def fit_inside(src: tuple[int, int], dst: tuple[int, int]) -> tuple[float, np.ndarray]:
    """(scale, offset (x, y)) mapping pixels of a ``src`` (H, W) frame into a ``dst`` (H, W)
    frame: the whole source frame fits, centred (1 and 0 for frames of one size)."""
    (sh, sw), (dh, dw) = src, dst
    s = min(dh / sh, dw / sw)
    return s, np.array([(dw - s * sw) / 2.0, (dh - s * sh) / 2.0], np.float32)


def _similarity(src_kp: np.ndarray, out_kp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the scale s and shift d with out = s * src + d (least squares over the
    confident joints)."""
    n = len(src_kp)
    scale, shift = np.ones(n, np.float32), np.zeros((n, 2), np.float32)
    for t in range(n):
        ok = (src_kp[t, :, 2] > 0) & (out_kp[t, :, 2] > 0)
        if ok.sum() < 2:
            continue
        a, b = src_kp[t, ok, :2], out_kp[t, ok, :2]
        ac, bc = a - a.mean(0), b - b.mean(0)
        s = float((ac * bc).sum() / max((ac * ac).sum(), 1e-9))
        scale[t], shift[t] = s, b.mean(0) - s * a.mean(0)
    return scale, shift


class RetargetConditions:
    """A ConditionSource for the target's model: frames of the source's motion."""

    computed = True
    """Its conditions are drawn and rasterised per chunk (``render_conditions`` computes
    the next chunk while the model renders the current one)."""

    def __init__(self, source: VideoStore, target: VideoStore, mode: str = "3d") -> None:
        if mode not in MODES:
            raise InputError(f"Unknown --retarget {mode!r}.", f"Use one of {', '.join(MODES)}.")
        self.mode, self.source, self.target = mode, source, target
        self.shape = frame_of(target)
        self.pre_scale, self.pre_shift = fit_inside(frame_of(source), self.shape)
        tgt_kp = target.read("keypoints")
        if mode == "3d":
            self._setup_3d(tgt_kp)
        else:
            src_kp = source.read("keypoints").astype(np.float32)
            src_kp[..., :2] = self._premap(src_kp[..., :2])
            src_kp[src_kp[..., 2] <= 0] = 0.0
            self.keypoints = normalize_2d(src_kp, tgt_kp) if mode == "2d" else src_kp
            scale, shift = _similarity(src_kp, self.keypoints)
            # source canonical pixels -> target pixels: the pre-map, then the similarity
            self.shift = (shift + scale[:, None] * self.pre_shift).astype(np.float32)
            self.scale = (scale * self.pre_scale).astype(np.float32)

    def _premap(self, xy: np.ndarray) -> np.ndarray:
        """Source canonical pixels (..., 2) -> the target's frame (:func:`fit_inside`)."""
        if self.pre_scale == 1.0 and not self.pre_shift.any():
            return xy
        return (xy * self.pre_scale + self.pre_shift).astype(np.float32)

    def _setup_3d(self, tgt_kp: np.ndarray) -> None:
        self.model, self.body, self.betas = fitted_body(self.target)
        pose = self.source.read("body/pose")
        src_transl = self.source.read("body/transl")
        src_cam = self.source.read("body/camera")
        self._place_3d(tgt_kp, pose, src_transl, src_cam)

    def _place_3d(
        self, tgt_kp: np.ndarray, pose: np.ndarray, src_transl: np.ndarray, src_cam: np.ndarray
    ) -> None:
        """The motion ``pose`` (T, 24, 3) at ``src_transl`` (T, 3) seen by ``src_cam``
        (T, 3) in the source's picture (mapped into the target's frame by ``pre_scale`` and
        ``pre_shift``, :func:`fit_inside`), on the target's body in the target's frame."""
        tgt_cam = np.median(self.target.read("body/camera"), axis=0).astype(np.float32)
        # the source's motion on the target's body, where the source was
        _, _, _, kp3d = posed_numpy(self.body, self.betas, pose, src_transl, normals=False)
        px = self._premap(_project_np(kp3d, src_cam))
        src_kp = np.concatenate([px, np.ones(px.shape[:2] + (1,), np.float32)], -1)
        moved = normalize_2d(src_kp, tgt_kp)
        scale, shift = _similarity(src_kp, moved)
        # image scale s at a fixed focal length = depth / s; then re-centre the root
        f_src = src_cam[:, 0] * self.pre_scale
        z = src_transl[:, 2] * (tgt_cam[0] / f_src) / np.maximum(scale, 1e-3)
        root_px = self._premap(_project_np(src_transl[:, None], src_cam)[:, 0])
        want = root_px * scale[:, None] + shift
        xy = (want - tgt_cam[1:3]) * z[:, None] / tgt_cam[0]
        self.pose = pose
        self.transl = np.concatenate([xy, z[:, None]], 1).astype(np.float32)
        self.camera = np.broadcast_to(tgt_cam, (len(pose), 3)).copy()
        _, _, _, kp3d = posed_numpy(self.body, self.betas, pose, self.transl, normals=False)
        px = _project_np(kp3d, self.camera)
        self.keypoints = np.concatenate([px, np.ones(px.shape[:2] + (1,), np.float32)], -1)

    def __len__(self) -> int:
        return len(self.keypoints)

    def chunk(self, start: int, stop: int, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The conditions ``names`` of frames [start, stop) in the target's frame:
        ``poselabel`` (the skeleton drawn from the retargeted keypoints), ``keypoints``,
        ``iuv`` and ``label3d``."""
        out: dict[str, np.ndarray] = {}
        if "keypoints" in names:
            out["keypoints"] = self.keypoints[start:stop]
        if "poselabel" in names:
            out["poselabel"] = np.stack(
                [draw_skeleton(k, self.shape) for k in self.keypoints[start:stop]]
            )
        body = [n for n in ("iuv", "label3d") if n in names]
        if body and self.mode == "3d":
            got = render_sequence(
                self.model,
                self.betas,
                self.pose[start:stop],
                self.transl[start:stop],
                self.camera[start:stop],
                self.shape,
                body=self.body,
            )
            out.update({n: got[n] for n in body})
        elif body:
            for n in body:
                if not self.source.has(n):
                    raise InputError(
                        f"The source video has no '{n}' array, which this model reads."
                    )
                img = self.source.read(n, start, stop)
                out[n] = np.stack(
                    [self._warp(img[i], start + i, cv2.INTER_NEAREST) for i in range(len(img))]
                )
        unknown = [n for n in names if n not in out]
        if unknown:
            raise InputError(f"A retargeted motion has no '{unknown[0]}' condition.")
        return out

    def _warp(self, img: np.ndarray, t: int, interp: int) -> np.ndarray:
        s, (dx, dy) = float(self.scale[t]), self.shift[t]
        m = np.array([[s, 0, dx], [0, s, dy]], np.float32)
        h, w = self.shape
        return cv2.warpAffine(img, m, (w, h), flags=interp, borderValue=0)


class PoseSequenceConditions(RetargetConditions):
    """Conditions from keypoints alone (e.g. OpenPose JSON of any video): normalised onto
    the target's ground line and range of motion (2D), then a body of the target's shape
    is fitted to them under the target's camera and rendered like a ``3d`` retarget."""

    def __init__(self, keypoints: np.ndarray, target: VideoStore) -> None:
        from ptx.body.fit import fit_body

        self.mode, self.source, self.target = "3d", None, target
        self.shape = frame_of(target)
        moved = normalize_2d(np.asarray(keypoints, np.float32)[:, :25], target.read("keypoints"))
        self.model, self.body, self.betas = fitted_body(target)
        camera = np.median(target.read("body/camera"), axis=0).astype(np.float32)
        fit = fit_body(self.model, moved, self.shape, None, camera, betas=self.betas)
        self.pose, self.transl = fit.pose, fit.transl
        self.camera = np.broadcast_to(camera, (len(moved), 3)).copy()
        self.keypoints = moved
