"""Dense correspondence between two pictures of a body: for every pixel of a target
picture, where the same point of the body is in a source picture.

Two ways, both returning a :class:`Correspondence` in the one flow convention of ptx
(``ptx.nn.warp``: target pixel p shows what the source shows at ``p + flow[p]``, pixel
(i, j)'s centre at coordinates (j, i)), so ``warp_backward(source, flow)`` brings the
source's picture into the target's pose:

- :func:`mesh_flow`: exact, from two fitted bodies of one mesh. The target body is
  rasterized with each triangle corner carrying its position on the *source* body (camera
  coordinates); the rasterizer's perspective-correct interpolation gives, for every target
  pixel, the surface point with the same face id and barycentric coordinates on the source
  body, which is projected by the source camera. A point is visible in the source when its
  depth is not behind the source's z-buffer there (by more than ``tolerance``).
- :func:`iuv_nearest_flow`: DwNet's coarse warp grid (Zablotskaia et al. 2019, §3.1), from
  two DensePose-style IUV images alone: "for each pixel in the driving frame we find
  nearest neighbour in the UV space of source image that belongs to the same body part",
  with a KD-tree per part (SciPy's ``cKDTree``). It needs no mesh, so it works with IUV
  imported from DensePose, 2D retargeting and pose files as well; it cannot tell a hidden
  point from a visible one (its answer is then the nearest point of the part that *is*
  visible).

Target pixels off the body (``covered`` False) get flow 0 (the identity: with a static
camera the source shows the background there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from ptx.body.model import BodyModel
from ptx.body.raster import rasterize
from ptx.body.render import to_pixels


@dataclass
class Correspondence:
    """Where each target pixel's body point is in the source (target frame (H, W))."""

    flow: np.ndarray
    """float32 (H, W, 2): (dx, dy) to the source pixel (0 off the body and where nothing
    was found)."""
    visible: np.ndarray
    """bool (H, W): on the body, found, and (mesh flow only) not hidden in the source."""
    covered: np.ndarray
    """bool (H, W): the target pixel shows the body."""

    @property
    def source_xy(self) -> np.ndarray:
        """float32 (H, W, 2): the source pixel (x, y) of every target pixel."""
        h, w = self.flow.shape[:2]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        return self.flow + np.stack([xs, ys], -1)


def mesh_flow(
    model: BodyModel,
    source_verts: np.ndarray,
    source_camera: np.ndarray,
    source_size: tuple[int, int],
    target_verts: np.ndarray,
    target_camera: np.ndarray,
    target_size: tuple[int, int],
    tolerance: float = 0.03,
) -> Correspondence:
    """Mesh flow from the target picture to the source picture (module docstring).

    ``*_verts`` float32 (V, 3): the posed body (one mesh, ``model``'s faces) in each
    picture's camera coordinates (metres; OpenCV axes); ``*_camera`` (3,): focal, cx, cy
    in that picture's pixels; ``*_size``: its (H, W). ``tolerance``: metres a point may lie
    behind the source's z-buffer and still count as visible (the z-buffer is sampled at
    the nearest pixel)."""
    faces = model.faces
    src_corners = np.asarray(source_verts, np.float32)[faces]  # (F, 3, 3)
    face, _, src_pts = rasterize(
        to_pixels(np.asarray(target_verts, np.float32), np.asarray(target_camera, np.float32)),
        faces,
        src_corners,
        target_size,
    )
    covered = face >= 0
    cam = np.asarray(source_camera, np.float32)
    z = np.maximum(src_pts[..., 2], 1e-6)
    # project(): pixel centres at +0.5; the warp convention puts them at integers
    sx = cam[0] * src_pts[..., 0] / z + cam[1] - 0.5
    sy = cam[0] * src_pts[..., 1] / z + cam[2] - 0.5
    h, w = target_size
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    flow = np.where(covered[..., None], np.stack([sx - xs, sy - ys], -1), 0.0).astype(np.float32)
    _, zbuf, _ = rasterize(
        to_pixels(np.asarray(source_verts, np.float32), cam),
        faces,
        np.zeros((len(faces), 3, 1), np.float32),
        source_size,
    )
    sh, sw = source_size
    ci = np.clip(np.rint(sy).astype(np.int64), 0, sh - 1)
    cj = np.clip(np.rint(sx).astype(np.int64), 0, sw - 1)
    inside = (sx >= -0.5) & (sx <= sw - 0.5) & (sy >= -0.5) & (sy <= sh - 0.5)
    visible = covered & inside & (src_pts[..., 2] <= zbuf[ci, cj] + tolerance)
    return Correspondence(flow, visible, covered)


def iuv_nearest_flow(source_iuv: np.ndarray, target_iuv: np.ndarray) -> Correspondence:
    """DwNet's coarse grid from IUV images (module docstring): ``source_iuv`` uint8
    (H, W, 3) and ``target_iuv`` uint8 (H', W', 3) (I = part 0..24, 0 background; U, V x
    255). Target pixels of a part the source does not show are not ``visible`` (flow 0)."""
    h, w = target_iuv.shape[:2]
    flow = np.zeros((h, w, 2), np.float32)
    found = np.zeros((h, w), bool)
    s_part, t_part = source_iuv[..., 0], target_iuv[..., 0]
    covered = t_part > 0
    for part in np.unique(t_part[covered]):
        si, sj = np.nonzero(s_part == part)
        if len(si) == 0:
            continue
        ti, tj = np.nonzero(t_part == part)
        tree = cKDTree(source_iuv[si, sj, 1:].astype(np.float32))
        _, near = tree.query(target_iuv[ti, tj, 1:].astype(np.float32))
        flow[ti, tj, 0] = sj[near] - tj
        flow[ti, tj, 1] = si[near] - ti
        found[ti, tj] = True
    return Correspondence(flow, found, covered)
