"""Fitting the body to keypoints and masks recovers a synthetic subject."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptx.body.fit import FitConfig, default_camera, fit_bodies, fit_body
from ptx.body.model import TorchBody, project
from ptx.body.open_model import open_body_model
from ptx.body.render import render_sequence
from ptx.body.rotation import axis_angle_to_matrix, matrix_to_axis_angle, rotation_np
from ptx.body.silhouette import silhouette_iou


@pytest.mark.slow
def test_fitting_recovers_the_synthetic_subject(subject):
    """Noisy keypoints (0.5% of the frame), two wild outliers per frame at full
    confidence, and masks with a stray blob: keypoints within 2% of the frame, IUV parts
    agreeing on 90% of the person's pixels, silhouette IoU above 0.9."""
    s = subject.config.size
    rng = np.random.default_rng(0)
    kp = subject.keypoints.copy()
    kp[..., :2] += rng.normal(0, 0.005 * s, kp[..., :2].shape)
    for t in range(len(kp)):
        kp[t, rng.choice(25, 2, replace=False), :2] = rng.uniform(0, s, (2, 2))
    mask = subject.mask.copy()
    mask[:, :12, :12] = 255
    m = open_body_model()
    fit = fit_body(m, kp, s, mask)
    render = render_sequence(m, fit.betas, fit.pose, fit.transl, fit.camera, s, ("iuv", "mask"))
    person = subject.mask > 0
    kp_err = np.linalg.norm(fit.keypoints[..., :2] - subject.keypoints[..., :2], axis=-1)
    assert kp_err.mean() / s < 0.02
    assert (render["iuv"][..., 0] == subject.iuv[..., 0])[person].mean() > 0.9
    assert silhouette_iou(render["mask"], subject.mask).mean() > 0.9
    # the reported error is the mean distance to the (noisy, outlying) detections
    to_detections = np.linalg.norm(fit.keypoints[..., :2] - kp[..., :2], axis=-1).mean(1)
    np.testing.assert_allclose(fit.error, to_detections, rtol=1e-4)


def _keypoints_of(pose: np.ndarray, transl: np.ndarray, size: int) -> np.ndarray:
    body = TorchBody(open_body_model())
    with torch.no_grad():
        out = body.forward(torch.zeros(10), torch.as_tensor(pose), torch.as_tensor(transl))
        xy = project(out.keypoints, torch.as_tensor(default_camera(size, len(pose)))).numpy()
    return np.concatenate([xy, np.ones(xy.shape[:2] + (1,))], -1).astype(np.float32)


def test_people_seen_from_the_side_or_the_back_are_not_fitted_facing_the_camera():
    yaws = [0.0, math.pi / 2, math.pi, -2.3]
    pose = np.zeros((len(yaws), 24, 3), np.float32)
    pose[:, 16, 2], pose[:, 17, 2] = -1.2, 1.2
    pose[:, 18, 1], pose[:, 19, 1] = -1.0, 1.0  # bent elbows tell front from back
    for i, yaw in enumerate(yaws):
        pose[i, 0] = matrix_to_axis_angle(rotation_np("x", math.pi) @ rotation_np("y", yaw))
    transl = np.tile([0.0, 0.0, 3.0], (len(yaws), 1)).astype(np.float32)
    kp = _keypoints_of(pose, transl, 128)
    cfg = FitConfig(pose_iters=60, silhouette_iters=0)
    fit = fit_body(open_body_model(), kp, 128, cfg=cfg, betas=np.zeros(10), consecutive=False)
    with torch.no_grad():
        got = axis_angle_to_matrix(torch.as_tensor(fit.pose[:, 0])).numpy()
        want = axis_angle_to_matrix(torch.as_tensor(pose[:, 0])).numpy()
    facing = lambda r: r[:, :, 2]  # noqa: E731  (the body's forward axis in camera space)
    cos = (facing(got) * facing(want)).sum(-1)
    assert (cos > math.cos(math.radians(30))).all(), cos


def test_frames_without_keypoints_report_no_error_and_fixed_shape_stays_fixed(subject):
    kp = subject.keypoints[:6].copy()
    kp[2] = 0.0
    betas = np.full(10, 0.3, np.float32)
    cfg = FitConfig(rigid_iters=10, pose_iters=10, silhouette_iters=0)
    fit = fit_body(open_body_model(), kp, subject.config.size, cfg=cfg, betas=betas)
    assert np.isnan(fit.error[2]) and np.isfinite(np.delete(fit.error, 2)).all()
    assert np.array_equal(fit.betas, betas)
    assert fit.pose.shape == (6, 24, 3) and fit.camera.shape == (6, 3)
    assert np.all(np.isfinite(fit.pose)) and np.all(np.isfinite(fit.transl))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fitting_on_cuda_matches_the_cpu(subject):
    kp, s = subject.keypoints[:8], subject.config.size
    cfg = FitConfig(rigid_iters=20, pose_iters=40, silhouette_iters=20)
    cpu = fit_body(open_body_model(), kp, s, subject.mask[:8], cfg=cfg)
    gpu = fit_body(open_body_model(), kp, s, subject.mask[:8], cfg=cfg, device="cuda")
    assert np.abs(gpu.keypoints - cpu.keypoints)[..., :2].mean() < 0.01 * s


def test_sequences_fitted_together_get_the_fits_they_get_alone(subject):
    """Batched windows are independent problems: neither their means nor their smoothness
    reach across sequences, so each gets the fit it would get alone."""
    s = subject.config.size
    cfg = FitConfig(rigid_iters=10, pose_iters=20, silhouette_iters=10)
    m = open_body_model()
    betas = np.zeros(m.n_betas, np.float32)
    spans = [(0, 5), (3, 11), (11, 12)]
    seqs = [(subject.keypoints[a:b], subject.mask[a:b], None) for a, b in spans]
    together = fit_bodies(m, seqs, s, cfg, betas)
    for (kp, mask, _), fit in zip(seqs, together):
        alone = fit_body(m, kp, s, mask, cfg=cfg, betas=betas)
        assert fit.pose.shape == alone.pose.shape
        np.testing.assert_allclose(fit.pose, alone.pose, atol=1e-5)
        np.testing.assert_allclose(fit.transl, alone.transl, atol=1e-5)
        np.testing.assert_allclose(fit.error, alone.error, atol=1e-4)
    with pytest.raises(ValueError, match="fixed shape"):
        fit_bodies(m, seqs, s, cfg)


def test_settled_sequences_stop_early_each_as_it_would_alone(subject, monkeypatch):
    """With ``settled``, a stage stops once the energy flattens, near the full run's error;
    in a batch each sequence stops when it would alone (a clean and a noisy one settle at
    different steps), its rows frozen while the other moves on."""
    import ptx.body.fit as fit_module

    steps: list[int] = []
    adam = fit_module._adam

    def counting(*args, **kwargs):
        steps.append(adam(*args, **kwargs))
        return steps[-1]

    monkeypatch.setattr(fit_module, "_adam", counting)
    s, m = subject.config.size, open_body_model()
    betas = np.zeros(m.n_betas, np.float32)
    full = FitConfig(rigid_iters=20, pose_iters=100, silhouette_iters=40)
    early = FitConfig(rigid_iters=20, pose_iters=100, silhouette_iters=40, settled=0.03)
    kp, mask = subject.keypoints[:12], subject.mask[:12]
    ref = fit_body(m, kp, s, mask, cfg=full, betas=betas)
    steps.clear()
    fit = fit_body(m, kp, s, mask, cfg=early, betas=betas)
    assert steps[1] < 100 and steps[2] < 40, steps
    assert abs(np.nanmean(fit.error) - np.nanmean(ref.error)) < 0.05  # pixels at 128 px

    noisy = subject.keypoints[12:].copy()
    noisy[..., :2] += np.random.default_rng(1).normal(0, 2.0, noisy[..., :2].shape)
    seqs = [(kp, mask, None), (noisy, subject.mask[12:], None)]
    steps.clear()
    together = fit_bodies(m, seqs, s, early, betas)
    alone_steps = []
    for (k, mk, _), got in zip(seqs, together):
        steps.clear()
        alone = fit_body(m, k, s, mk, cfg=early, betas=betas)
        alone_steps.append(steps[1:])
        np.testing.assert_allclose(got.pose, alone.pose, atol=1e-5)
        np.testing.assert_allclose(got.transl, alone.transl, atol=1e-5)
    assert alone_steps[0] != alone_steps[1], alone_steps  # they did settle apart
