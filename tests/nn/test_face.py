"""Face boxes follow the face keypoints, stay in the frame, and cutting and pasting them
changes nothing else."""

from __future__ import annotations

import torch

from ptx.nn.face import FACE_JOINTS, crop, face_boxes, face_side, paste_residual


def _keypoints(centres: list[tuple[float, float] | None], k: int = 25) -> torch.Tensor:
    kp = torch.zeros(len(centres), k, 3)
    for i, c in enumerate(centres):
        if c is None:
            continue
        for j, (dx, dy) in zip(FACE_JOINTS, [(0, 0), (-2, -1), (2, -1), (-4, 0), (4, 0)]):
            kp[i, j] = torch.tensor([c[0] + dx, c[1] + dy, 0.9])
    kp[:, 1] = torch.tensor([20.0, 30.0, 0.9])  # a neck, which is not a face joint
    return kp


def test_boxes_centre_on_the_face_and_stay_inside():
    kp = _keypoints([(30.0, 12.0), (2.0, 60.0), None])
    boxes, found = face_boxes(kp, 16, height=64, width=48)
    assert found.tolist() == [True, True, False]
    assert boxes[0].tolist() == [12 - 8, 30 - 8]  # (y, x) of the top-left corner
    assert boxes[1].tolist() == [64 - 16, 0]  # clamped into the frame
    assert face_side(512, 0.25, 8) == 128 and face_side(20, 0.25, 8) == 8


def test_crop_and_paste_touch_only_found_boxes():
    torch.manual_seed(0)
    images = torch.randn(3, 3, 64, 48, requires_grad=True)
    boxes, found = face_boxes(_keypoints([(30.0, 12.0), (10.0, 40.0), None]), 16, 64, 48)
    faces = crop(images, boxes, 16)
    assert torch.equal(faces[0], images[0, :, 4:20, 22:38])
    assert torch.equal(paste_residual(images, torch.zeros_like(faces), boxes, found), images)
    residual = torch.randn_like(faces)
    out = paste_residual(images, residual, boxes, found)
    assert torch.allclose(crop(out, boxes, 16)[:2], (faces + residual)[:2])
    assert torch.equal(out[2], images[2])  # no face keypoints: untouched
    outside = torch.ones(64, 48, dtype=torch.bool)
    outside[4:20, 22:38] = False
    assert torch.equal(out[0][:, outside], images[0][:, outside])
    out.sum().backward()
    assert images.grad is not None
