"""The numba rasterizer: coverage, interpolation, depth order, culling, encoding."""

from __future__ import annotations

import numpy as np

from ptx.body.raster import encode_labels, rasterize

# a triangle counter-clockwise seen from outside in a y-up frame is clockwise on the
# y-down screen: (10, 10) -> (10, 50) -> (50, 10) faces the camera.
TRI = np.array([[10.0, 10.0, 2.0], [10.0, 50.0, 2.0], [50.0, 10.0, 2.0]], np.float32)
FRONT = np.array([[0, 1, 2]], np.int32)


def test_a_triangle_covers_its_area_and_interpolates_linearly():
    # attribute = screen x at each corner: interpolation must give x at pixel centres
    attrs = TRI[None, :, :2].copy()
    face, depth, out = rasterize(TRI, FRONT, attrs, (64, 64))
    covered = face >= 0
    assert abs(covered.sum() - 0.5 * 40 * 40) < 40 * 1.5  # area, give or take the edge
    rows, cols = np.nonzero(covered)
    np.testing.assert_allclose(out[rows, cols, 0], cols + 0.5, atol=1e-3)
    np.testing.assert_allclose(out[rows, cols, 1], rows + 0.5, atol=1e-3)
    np.testing.assert_allclose(depth[covered], 2.0, atol=1e-5)
    assert np.all(np.isinf(depth[~covered]))
    assert np.all(out[~covered] == 0)


def test_interpolation_is_perspective_correct():
    # a plane receding in depth; the attribute is the 3D x coordinate of the surface
    f = 100.0
    pts3 = np.array([[-1.0, -1.0, 2.0], [-1.0, 1.0, 6.0], [1.0, -1.0, 2.0]])
    scr = np.column_stack([f * pts3[:, 0] / pts3[:, 2] + 64, f * pts3[:, 1] / pts3[:, 2] + 64])
    verts = np.column_stack([scr, pts3[:, 2]]).astype(np.float32)
    attrs = pts3[None, :, :2].astype(np.float32)
    face, depth, out = rasterize(verts, FRONT, attrs, (128, 128), cull_back=False)
    rows, cols = np.nonzero(face >= 0)
    # back-project each pixel centre with its depth: must land on the interpolated point
    x3 = (cols + 0.5 - 64) * depth[rows, cols] / f
    y3 = (rows + 0.5 - 64) * depth[rows, cols] / f
    np.testing.assert_allclose(out[rows, cols, 0], x3, atol=2e-3)
    np.testing.assert_allclose(out[rows, cols, 1], y3, atol=2e-3)


def test_the_nearer_triangle_wins_in_either_order():
    near = TRI.copy()
    far = TRI.copy()
    far[:, 2] = 5.0
    verts = np.concatenate([far, near])
    attrs = np.array([[[1.0]] * 3, [[2.0]] * 3], np.float32)
    for faces in (np.array([[0, 1, 2], [3, 4, 5]]), np.array([[3, 4, 5], [0, 1, 2]])):
        a = attrs if faces[0, 0] == 0 else attrs[::-1]
        face, depth, out = rasterize(verts, faces.astype(np.int32), a, (64, 64))
        on = face >= 0
        np.testing.assert_allclose(out[on, 0], 2.0, atol=1e-5)
        np.testing.assert_allclose(depth[on], 2.0, atol=1e-5)


def test_back_faces_are_culled_unless_asked_not_to():
    back = FRONT[:, ::-1].copy()
    attrs = np.zeros((1, 3, 1), np.float32)
    assert (rasterize(TRI, back, attrs, (64, 64))[0] >= 0).sum() == 0
    assert (rasterize(TRI, back, attrs, (64, 64), cull_back=False)[0] >= 0).sum() > 700


def test_triangles_behind_the_camera_or_off_screen_draw_nothing():
    attrs = np.zeros((1, 3, 1), np.float32)
    behind = TRI.copy()
    behind[0, 2] = -1.0
    assert (rasterize(behind, FRONT, attrs, (64, 64))[0] >= 0).sum() == 0
    off = TRI + np.array([500.0, 0, 0], np.float32)
    assert (rasterize(off, FRONT, attrs, (64, 64))[0] >= 0).sum() == 0


def test_encoding_writes_part_uv_and_normal_bytes():
    face = np.array([[-1, 0]], np.int32)
    buf = np.zeros((1, 2, 5), np.float32)
    buf[0, 1] = [0.5, 1.0, 0.0, 0.0, -2.0]  # U, V, normal towards the camera (unnormalised)
    iuv = np.zeros((1, 2, 3), np.uint8)
    label = np.zeros((1, 2, 3), np.uint8)
    encode_labels(face, np.array([7], np.uint8), buf, 2, iuv, label)
    assert iuv[0, 0].tolist() == [0, 0, 0] and label[0, 0].tolist() == [0, 0, 0]
    assert iuv[0, 1].tolist() == [7, 128, 255]
    assert label[0, 1].tolist() == [128, 128, 255]  # x 0, y 0, z out of the screen
