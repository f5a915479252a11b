"""The open body model: closed surface, parts and charts, skinning, shape, keypoints."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from ptx.body.model import TorchBody
from ptx.body.open_model import SHAPE_NAMES, open_body_model, shaped_joints
from ptx.body.render import render_sequence
from ptx.io.openpose import BODY_25


def _posed(pose: np.ndarray, betas=None) -> np.ndarray:
    m = open_body_model()
    body = TorchBody(m)
    b = torch.zeros(m.n_betas) if betas is None else torch.as_tensor(betas, dtype=torch.float32)
    out = body.forward(b, torch.as_tensor(pose)[None], torch.zeros(1, 3), all_vertices=True)
    return out.vertices[0].numpy().astype(np.float64)


def _volume(v: np.ndarray, f: np.ndarray) -> float:
    return float(np.einsum("ij,ij->", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])) / 6)


def test_every_edge_joins_two_triangles_wound_oppositely():
    f = open_body_model().faces
    directed = Counter((int(a), int(b)) for tri in f for a, b in zip(tri, np.roll(tri, -1)))
    assert all(n == 1 for n in directed.values())  # no edge used twice the same way
    assert all(directed[(b, a)] == 1 for a, b in directed)  # each has its twin: closed


def test_bending_joints_keeps_the_surface_closed_and_its_volume():
    m = open_body_model()
    rest = _posed(np.zeros((24, 3), np.float32))
    pose = np.zeros((24, 3), np.float32)
    pose[4, 0] = pose[5, 0] = 2.0  # knees
    pose[18, 1], pose[19, 1] = -2.0, 2.0  # elbows
    pose[16, 2], pose[17, 2] = -1.3, 1.3  # arms down
    pose[1, 0] = -1.2  # thigh forward
    bent = _posed(pose)
    assert abs(_volume(bent, m.faces) / _volume(rest, m.faces) - 1) < 0.1
    edges = np.concatenate([m.faces[:, [0, 1]], m.faces[:, [1, 2]], m.faces[:, [2, 0]]])
    length = lambda v: np.linalg.norm(v[edges[:, 0]] - v[edges[:, 1]], axis=1)  # noqa: E731
    assert (length(bent) / length(rest)).max() < 3.0


def test_parts_charts_and_weights_are_well_formed():
    m = open_body_model()
    assert set(np.unique(m.face_part)) == set(range(1, 25))
    assert m.face_uv.min() >= 0 and m.face_uv.max() <= 1
    np.testing.assert_allclose(m.weights.sum(1), 1, atol=1e-5)
    # each part's chart is used across most of [0, 1] in both U and V
    for pid in range(1, 25):
        uv = m.face_uv[m.face_part == pid].reshape(-1, 2)
        assert np.ptp(uv[:, 0]) > 0.9 and np.ptp(uv[:, 1]) > 0.9, pid


def test_a_person_facing_the_camera_shows_left_parts_on_the_image_right():
    m = open_body_model()
    pose = np.zeros((1, 24, 3), np.float32)
    pose[0, 0] = [np.pi, 0, 0]
    iuv = render_sequence(
        m, np.zeros(10), pose, np.array([[0, 0.1, 3.0]]), np.array([115.0, 64, 64]), 128
    )["iuv"][0, ..., 0]
    cols = lambda pid: np.nonzero(iuv == pid)[1]  # noqa: E731
    for left, right in ((4, 3), (15, 16), (10, 9), (24, 23)):  # hands, arms, thighs, head
        assert cols(left).mean() > 64 > cols(right).mean()
    assert (iuv == 2).sum() > 0 and (iuv == 1).sum() == 0  # torso front, not back
    rows = lambda pid: np.nonzero(iuv == pid)[0].mean()  # noqa: E731
    assert rows(24) < rows(2) < rows(14) < rows(5)  # head, torso, shin, foot: top to bottom


def test_shape_coefficients_change_what_their_names_say():
    idx = {n: i for i, n in enumerate(SHAPE_NAMES)}
    base = shaped_joints(np.zeros(10))
    longer = shaped_joints(np.eye(10)[idx["leg_length"]])
    assert np.linalg.norm(longer[7] - longer[1]) > np.linalg.norm(base[7] - base[1]) + 0.05
    m = open_body_model()
    wide = _posed(np.zeros((24, 3), np.float32), np.eye(10)[idx["torso_girth"]] * 2)
    rest = _posed(np.zeros((24, 3), np.float32))
    torso = np.unique(m.faces[np.isin(m.face_part, (1, 2))])
    assert np.ptp(wide[torso, 0]) > np.ptp(rest[torso, 0]) * 1.1


def test_keypoints_follow_body_25_and_their_bones():
    m = open_body_model()
    body = TorchBody(m)
    pose = torch.zeros(1, 24, 3)
    pose[0, 18, 1] = -1.5  # bend the left elbow: only the left wrist moves
    kp0 = body.forward(torch.zeros(10), torch.zeros(1, 24, 3), torch.zeros(1, 3)).keypoints[0]
    kp1 = body.forward(torch.zeros(10), pose, torch.zeros(1, 3)).keypoints[0]
    moved = {BODY_25[i] for i in np.flatnonzero((kp1 - kp0).norm(dim=1).numpy() > 1e-4)}
    assert moved == {"LWrist"}
    names = dict(zip(BODY_25, kp0.numpy()))
    assert names["Nose"][1] > names["Neck"][1] > names["MidHip"][1] > names["LKnee"][1]
    assert names["LShoulder"][0] > 0 > names["RShoulder"][0]  # +x is the person's left
    assert names["LBigToe"][2] > names["LHeel"][2]  # toes point forward
