"""Rendering the body into IUV and label3d images."""

from __future__ import annotations

import cv2
import numpy as np

from ptx.body.open_model import open_body_model
from ptx.body.render import render_sequence


def _render(subject, outputs=("iuv", "label3d", "mask")):
    s = subject.config.size
    return render_sequence(
        open_body_model(), subject.betas, subject.pose, subject.transl, subject.camera, s, outputs
    )


def test_every_person_pixel_gets_a_part_and_the_silhouette_has_no_cracks(subject):
    out = _render(subject)
    person = out["mask"] > 0
    assert np.array_equal(person, out["iuv"][..., 0] > 0)
    assert np.array_equal(out["iuv"], subject.iuv)  # the stored ground truth is this render
    for m in person.astype(np.uint8):
        # flood the background from the border: anything left unreached and unpainted is
        # a hole inside the body (a crack where a joint bends)
        filled = m.copy()
        flood = np.zeros((m.shape[0] + 2, m.shape[1] + 2), np.uint8)
        cv2.floodFill(filled, flood, (0, 0), 1)
        assert (filled == 0).sum() <= 2  # between touching limbs at most a stray pixel


def test_u_and_v_vary_smoothly_within_parts(subject):
    """Away from a part's outline (where the surface turns away and U races), neighbouring
    pixels of one part have nearby (U, V): no seams or flips inside a chart."""
    iuv = subject.iuv.astype(np.float32)
    kernel = np.ones((3, 3), np.uint8)
    steps = []
    for t in range(len(iuv)):
        part = iuv[t, ..., 0].astype(np.int32)
        for pid in set(np.unique(part)) - {0, 3, 4, 5, 6}:  # hands and feet wrap U around
            inner = cv2.erode((part == pid).astype(np.uint8), kernel).astype(bool)
            for dy, dx in ((0, 1), (1, 0)):
                both = inner[: inner.shape[0] - dy, : inner.shape[1] - dx] & inner[dy:, dx:]
                a = iuv[t, : inner.shape[0] - dy, : inner.shape[1] - dx, 1:][both]
                b = iuv[t, dy:, dx:, 1:][both]
                steps.append(np.abs(a - b) / 255.0)
    step = np.concatenate(steps)
    assert len(step) > 10_000
    # a seam or a flipped chart would jump by 0.5 or more; thin forearms (5 px wide at this
    # size) legitimately step by up to ~0.25 across their width
    assert step.max() < 0.35 and step.mean() < 0.04


def test_label3d_holds_unit_normals_mostly_facing_the_camera(subject):
    lab = subject.label3d
    person = subject.mask > 0
    assert np.all(lab[~person] == 0) and np.all(lab[person] > 0)
    n = lab[person].astype(np.float32) / 127.5 - 1.0
    norm = np.linalg.norm(n, axis=1)
    assert np.abs(norm - 1).max() < 0.03
    assert (n[:, 2] > 0).mean() > 0.9  # visible surfaces face the viewer
    # the image's left side of the torso faces left (-x), the right side faces right
    torso = (subject.iuv[0, ..., 0] == 2) & person[0]
    cols = np.nonzero(torso)[1]
    left = torso & (np.arange(torso.shape[1]) < np.percentile(cols, 10))[None]
    right = torso & (np.arange(torso.shape[1]) > np.percentile(cols, 90))[None]
    nx = lab[0, ..., 0].astype(np.float32) / 127.5 - 1
    assert nx[left].mean() < -0.2 < 0.2 < nx[right].mean()


def test_rendering_with_threads_matches_one_thread(subject):
    one = _render(subject, ("iuv",))["iuv"]
    s = subject.config.size
    many = render_sequence(
        open_body_model(),
        subject.betas,
        subject.pose,
        subject.transl,
        subject.camera,
        s,
        ("iuv",),
        workers=3,
    )["iuv"]
    assert np.array_equal(one, many)
