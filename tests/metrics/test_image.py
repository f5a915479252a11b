"""SSIM / PSNR against known values, and the person-only variants' mask semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptx.errors import InputError
from ptx.metrics.image import PSNR_CAP_DB, FrameScores, frame_scores, psnr_frames, ssim_frames


def _frames(seed: int, t: int = 3, size: int = 48, lo: int = 40, hi: int = 216) -> np.ndarray:
    """uint8 (t, size, size, 3) textured frames with values kept away from 0 and 255."""
    rng = np.random.default_rng(seed)
    return rng.integers(lo, hi, (t, size, size, 3), dtype=np.uint8)


def _person_mask(t: int = 3, size: int = 48) -> np.ndarray:
    m = np.zeros((t, size, size), dtype=bool)
    m[:, 12:36, 16:32] = True
    return m


def test_identical_frames_give_ssim_one_and_capped_psnr() -> None:
    a = _frames(0)
    s = frame_scores(a, a.copy(), _person_mask())
    np.testing.assert_allclose(s.ssim, 1.0, atol=1e-6)
    np.testing.assert_allclose(s.person_ssim, 1.0, atol=1e-6)
    assert (s.psnr == PSNR_CAP_DB).all() and (s.person_psnr == PSNR_CAP_DB).all()
    assert s.summary()["psnr"] == PSNR_CAP_DB


@pytest.mark.parametrize("sigma", [2.0, 8.0])
def test_gaussian_noise_gives_the_expected_psnr(sigma: float) -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(60, 196, (4, 96, 96, 3), dtype=np.uint8)
    noisy = np.rint(truth + rng.normal(0.0, sigma, truth.shape)).astype(np.uint8)
    expected = 20 * np.log10(255 / np.sqrt(sigma**2 + 1 / 12))  # + rounding noise
    psnr = psnr_frames(noisy, truth)
    assert psnr.shape == (4,)
    assert abs(psnr.mean() - expected) < 0.2
    # SSIM falls as noise grows, and stays in (0, 1)
    assert 0.0 < ssim_frames(noisy, truth).mean() < 1.0


def test_ssim_orders_degradations() -> None:
    rng = np.random.default_rng(2)
    truth = _frames(2, t=2)
    slight = np.clip(truth + rng.normal(0, 3, truth.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(truth + rng.normal(0, 30, truth.shape), 0, 255).astype(np.uint8)
    assert (ssim_frames(slight, truth) > ssim_frames(heavy, truth) + 0.1).all()


def test_float_tensors_match_uint8_arrays() -> None:
    a, b = _frames(3), _frames(4)
    ta = torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255
    tb = torch.from_numpy(b).permute(0, 3, 1, 2).float() / 255
    u = frame_scores(a, b)
    f = frame_scores(ta, tb)
    np.testing.assert_allclose(u.psnr, f.psnr, atol=1e-4)
    np.testing.assert_allclose(u.ssim, f.ssim, atol=1e-5)


def test_batching_does_not_change_values() -> None:
    a, b = _frames(5, t=5), _frames(6, t=5)
    one = frame_scores(a, b, _person_mask(5), batch=1)
    many = frame_scores(a, b, _person_mask(5), batch=4)
    for name in ("psnr", "ssim", "person_psnr", "person_ssim"):
        np.testing.assert_allclose(getattr(one, name), getattr(many, name), atol=1e-6)


def test_person_scores_ignore_pixels_outside_the_mask() -> None:
    truth, out = _frames(7), _frames(8)
    mask = _person_mask()
    base = frame_scores(out, truth, mask)
    rng = np.random.default_rng(9)
    out2, truth2 = out.copy(), truth.copy()
    out2[~mask] = rng.integers(0, 256, out2[~mask].shape, dtype=np.uint8)
    truth2[~mask] = rng.integers(0, 256, truth2[~mask].shape, dtype=np.uint8)
    changed = frame_scores(out2, truth2, mask)
    np.testing.assert_allclose(changed.person_psnr, base.person_psnr, atol=1e-9)
    np.testing.assert_allclose(changed.person_ssim, base.person_ssim, atol=1e-6)
    assert not np.allclose(changed.psnr, base.psnr)  # the whole-frame score does see them


def test_person_scores_see_pixels_inside_the_mask() -> None:
    truth = _frames(10)
    mask = _person_mask()
    out = truth.copy()
    out[mask] = 255 - out[mask]
    s = frame_scores(out, truth, mask)
    assert (s.person_psnr < 15).all() and (s.person_ssim < 0.5).all()
    assert (s.psnr > s.person_psnr).all()  # diluted by the untouched background


def test_full_mask_person_psnr_equals_whole_frame_psnr() -> None:
    a, b = _frames(11), _frames(12)
    s = frame_scores(a, b, np.full((3, 48, 48), 255, dtype=np.uint8))
    np.testing.assert_allclose(s.person_psnr, s.psnr, atol=1e-9)


def test_empty_mask_frame_has_no_person_value_and_is_skipped() -> None:
    a, b = _frames(13), _frames(14)
    mask = _person_mask()
    mask[1] = False
    s = frame_scores(a, b, mask)
    assert np.isnan(s.person_psnr[1]) and np.isnan(s.person_ssim[1])
    assert np.isfinite(s.person_psnr[[0, 2]]).all()
    assert s.summary()["person_psnr"] == pytest.approx(s.person_psnr[[0, 2]].mean())


def test_subset_and_concat() -> None:
    a, b = _frames(15, t=4), _frames(16, t=4)
    s = frame_scores(a, b)
    parts = FrameScores.concat([frame_scores(a[:2], b[:2]), frame_scores(a[2:], b[2:])])
    np.testing.assert_allclose(parts.ssim, s.ssim)
    sub = s.subset(np.array([3, 1]))
    np.testing.assert_allclose(sub.psnr, s.psnr[[3, 1]])
    assert sub.person_psnr is None and sub.summary()["person_ssim"] is None


def test_bad_inputs_say_what_was_wanted() -> None:
    a = _frames(17)
    with pytest.raises(InputError, match=r"\(T, H, W, 3\)"):
        frame_scores(a[..., :2], a[..., :2])
    with pytest.raises(InputError, match="differ in shape"):
        frame_scores(a, a[:, :40])
    with pytest.raises(InputError, match="3 frames, truth 2"):
        frame_scores(a, a[:2])
    with pytest.raises(InputError, match="as bool"):
        frame_scores(a, a, _person_mask().astype(np.uint8))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_cpu_values() -> None:
    a, b = _frames(18), _frames(19)
    cpu = frame_scores(a, b, _person_mask())
    gpu = frame_scores(a, b, _person_mask(), device="cuda")
    for name in ("psnr", "ssim", "person_psnr", "person_ssim"):
        np.testing.assert_allclose(getattr(gpu, name), getattr(cpu, name), atol=1e-4)
