"""The one backward flow warp: its convention, and the tensor and numpy forms agree."""

from __future__ import annotations

import numpy as np
import torch

from ptx.nn.warp import warp_backward, warp_backward_np


def test_warp_samples_bilinearly_at_pixel_centres_and_says_what_is_inside() -> None:
    prev = torch.arange(8, dtype=torch.float32).view(1, 1, 1, 8).expand(1, 1, 4, 8)
    flow = torch.zeros(1, 2, 4, 8)
    flow[:, 0] = 0.5
    warped, inside = warp_backward(prev, flow)
    np.testing.assert_allclose(warped[0, 0, 0, :7].numpy(), np.arange(7) + 0.5, atol=1e-5)
    assert not inside[0, 0, 0, 7] and inside[0, 0, :, :7].all()


def test_tensor_and_numpy_forms_agree() -> None:
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (24, 32, 3)).astype(np.float32)
    flow = rng.normal(0, 3, (24, 32, 2)).astype(np.float32)
    a, inside_a = warp_backward_np(img, flow)
    b, inside_b = warp_backward(
        torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(flow).permute(2, 0, 1)[None]
    )
    assert np.array_equal(inside_a, inside_b[0, 0].numpy())
    # OpenCV interpolates with 5-bit fixed-point weights: equal to within that rounding
    assert np.abs(a - b[0].permute(1, 2, 0).numpy())[inside_a].max() < 255 / 32
    # where the flow lands on whole pixels both are exact
    whole = np.round(flow)
    a, _ = warp_backward_np(img, whole)
    b, _ = warp_backward(
        torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(whole).permute(2, 0, 1)[None]
    )
    np.testing.assert_allclose(a, b[0].permute(1, 2, 0).numpy(), atol=1e-3)
