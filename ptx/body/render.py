"""Render a posed body into DensePose-style IUV and 3D pose labels.

``iuv`` uint8 (H, W, 3): I = DensePose part id 0..24 (0 background), U and V of the part
chart times 255 (DESIGN.md).

``label3d`` uint8 (H, W, 3): the unit surface normal of the visible body in camera space,
in the usual normal-map convention: x to the right, y up, z towards the viewer, each
component ``n`` stored as ``round(127.5 * (n + 1))`` clipped to 1..255; background is 0.
Normals were chosen over the paper's Laplacian coordinates because they are smooth over
the whole surface, independent of mesh resolution (the open model and SMPL give the same
kind of label), and show the pose-dependent orientation of every limb, which is what the
renderer needs to shade it.

The camera is a pinhole at the origin with OpenCV axes; ``camera`` = (focal, cx, cy) in
pixels, per frame.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ptx.body.model import BodyModel, TorchBody, posed_numpy
from ptx.body.raster import encode_labels, rasterize

OUTPUTS = ("iuv", "label3d", "mask")


@dataclass
class FrameRender:
    """One rasterized frame (float buffers; encode with :func:`iuv_image` and
    :func:`label3d_image`)."""

    face: np.ndarray
    """int32 (H, W): triangle index, -1 for background."""
    depth: np.ndarray
    """float32 (H, W): camera depth, inf for background."""
    buf: np.ndarray
    """float32 (H, W, C): U, V, then normals (3, if rendered), then extra attributes."""
    face_part: np.ndarray
    """uint8 (F,): the model's part per triangle."""
    has_normals: bool

    @property
    def part(self) -> np.ndarray:
        """uint8 (H, W): DensePose part 0..24."""
        return np.where(self.face >= 0, self.face_part[np.maximum(self.face, 0)], 0).astype(
            np.uint8
        )

    @property
    def uv(self) -> np.ndarray:
        """float32 (H, W, 2): (U, V) in [0, 1] (0 on the background)."""
        return self.buf[..., :2]

    @property
    def normal(self) -> np.ndarray | None:
        """float32 (H, W, 3): unit camera-space normals (OpenCV axes), or None."""
        if not self.has_normals:
            return None
        n = self.buf[..., 2:5]
        return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-8)

    @property
    def extra(self) -> np.ndarray:
        """float32 (H, W, C): the interpolated extra vertex attributes."""
        return self.buf[..., 5 if self.has_normals else 2 :]


def to_pixels(verts: np.ndarray, camera: np.ndarray) -> np.ndarray:
    """(V, 3) camera coordinates -> (V, 3) pixel x, pixel y, depth."""
    z = np.maximum(verts[:, 2], 1e-6)
    out = np.empty_like(verts, dtype=np.float32)
    out[:, 0] = camera[0] * verts[:, 0] / z + camera[1]
    out[:, 1] = camera[0] * verts[:, 1] / z + camera[2]
    out[:, 2] = verts[:, 2]
    return out


def render_frame(
    model: BodyModel,
    verts: np.ndarray,
    camera: np.ndarray,
    size: tuple[int, int],
    normals: np.ndarray | None = None,
    extra: np.ndarray | None = None,
) -> FrameRender:
    """Rasterize one posed body. ``verts`` float32 (V, 3) camera coordinates, ``camera``
    (3,), ``size`` (H, W), optional per-vertex ``normals`` (V, 3) and ``extra`` (V, C)."""
    f = model.faces
    attrs = [model.face_uv]
    if normals is not None:
        attrs.append(normals[f])
    if extra is not None:
        attrs.append(extra[f])
    all_attrs = np.concatenate(attrs, axis=2) if len(attrs) > 1 else attrs[0]
    face, depth, buf = rasterize(to_pixels(verts, camera), f, all_attrs, size)
    return FrameRender(face, depth, buf, model.face_part, normals is not None)


def iuv_image(fr: FrameRender) -> np.ndarray:
    """uint8 (H, W, 3) IUV image of a rendered frame."""
    iuv = np.zeros(fr.face.shape + (3,), np.uint8)
    encode_labels(fr.face, fr.face_part, fr.buf, -1, iuv, None)
    return iuv


def label3d_image(fr: FrameRender) -> np.ndarray:
    """uint8 (H, W, 3) normal map (see the module docstring) of a rendered frame."""
    if not fr.has_normals:
        raise ValueError("render the frame with normals to make a label3d image")
    img = np.zeros(fr.face.shape + (3,), np.uint8)
    encode_labels(fr.face, fr.face_part, fr.buf, 2, None, img)
    return img


def render_sequence(
    model: BodyModel,
    betas: np.ndarray,
    pose: np.ndarray,
    transl: np.ndarray,
    camera: np.ndarray,
    size: int | tuple[int, int],
    outputs: tuple[str, ...] = ("iuv", "label3d"),
    workers: int = 1,
    body: TorchBody | None = None,
) -> dict[str, np.ndarray]:
    """Render frames of a fitted body.

    ``betas`` (B,), ``pose`` (T, 24, 3), ``transl`` (T, 3), ``camera`` (T, 3) or (3,)
    (focal, cx, cy in pixels of the frame), ``size`` the frame's (H, W) (or the side of a
    square). ``outputs`` from ``OUTPUTS``. Returns each as uint8: ``iuv`` (T, H, W, 3),
    ``label3d`` (T, H, W, 3), ``mask`` (T, H, W) (255 on the body).
    """
    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"unknown outputs {sorted(unknown)}; choose from {OUTPUTS}")
    body = body or TorchBody(model)
    verts, vn, _, _ = posed_numpy(body, betas, pose, transl, normals="label3d" in outputs)
    n = len(verts)
    cams = np.broadcast_to(np.asarray(camera, np.float32).reshape(-1, 3), (n, 3))
    h, w = (size, size) if isinstance(size, (int, np.integer)) else size
    res = {k: np.zeros((n, h, w, 3) if k != "mask" else (n, h, w), np.uint8) for k in outputs}

    uv = model.face_uv
    with_normals = vn is not None

    def one(t: int) -> None:
        attrs = np.concatenate([uv, vn[t][model.faces]], axis=2) if with_normals else uv
        px = to_pixels(verts[t], cams[t])
        face, _, buf = rasterize(px, model.faces, attrs, (h, w))
        encode_labels(
            face,
            model.face_part,
            buf,
            2,
            res["iuv"][t] if "iuv" in res else None,
            res["label3d"][t] if "label3d" in res else None,
        )
        if "mask" in res:
            res["mask"][t] = np.where(face >= 0, 255, 0)

    if workers > 1 and n > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ptx-raster") as pool:
            list(pool.map(one, range(n)))
    else:
        for t in range(n):
            one(t)
    return res


def default_workers() -> int:
    """Threads for rendering: the cores free now (``ptx.devices.cpu_threads``)."""
    from ptx.devices import cpu_threads

    return cpu_threads()
