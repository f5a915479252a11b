"""Resizing prepared arrays to a model's (H, W): per-axis scales for keypoints and flow."""

from __future__ import annotations

import numpy as np
import torch

from ptx.nn.arrays import resize_array, resize_keypoints


def test_images_resize_to_a_rectangle_by_area():
    x = np.zeros((2, 64, 32, 3), np.uint8)
    x[:, :32] = 200  # top half bright
    out = resize_array("frames", x, (16, 8))
    assert out.shape == (2, 3, 16, 8) and out.dtype == torch.uint8
    assert (out[:, :, :8] == 200).all() and (out[:, :, 8:] == 0).all()
    assert torch.equal(resize_array("frames", x, (64, 32)), torch.from_numpy(x).permute(0, 3, 1, 2))


def test_flow_vectors_scale_per_axis():
    flow = np.zeros((1, 64, 32, 2), np.float16)
    flow[..., 0], flow[..., 1] = 4.0, 8.0
    out = resize_array("flow", flow, (16, 16))  # x shrinks by 2, y by 4
    assert out.shape == (1, 2, 16, 16)
    assert torch.allclose(out[0, 0].float(), torch.tensor(2.0))
    assert torch.allclose(out[0, 1].float(), torch.tensor(2.0))


def test_iuv_keeps_part_ids_and_mask_gets_a_channel():
    iuv = np.random.default_rng(0).integers(0, 25, (1, 40, 20, 3)).astype(np.uint8)
    out = resize_array("iuv", iuv, (20, 10))
    assert set(out[:, 0].unique().tolist()) <= set(np.unique(iuv[..., 0]).tolist())
    assert resize_array("mask", np.zeros((3, 40, 20), np.uint8), (20, 10)).shape == (3, 1, 20, 10)


def test_keypoints_scale_per_axis_and_square_stays_exact():
    kp = np.array([[[32.0, 64.0, 0.9], [0.0, 0.0, 0.0]]], np.float32)
    out = resize_keypoints(kp, (128, 64), (32, 24))
    assert torch.allclose(out[0, 0], torch.tensor([12.0, 16.0, 0.9]))
    assert (out[0, 1] == 0).all()
    sq = resize_keypoints(kp, 64, 32)
    assert torch.equal(sq[0, 0], torch.tensor([16.0, 32.0, 0.9]))
