"""Pose and shape priors for fitting, without learned weights (none can be downloaded).

Joint rotations are axis-angle in the rest pose's axes (``ptx.body.parts``): knees flex
about ``+x``; the left elbow flexes about ``-y`` and the right about ``+y``; twisting a
limb about its own bone is rotation about ``x`` for the arms and ``y`` for the legs. The
prior keeps bends anatomical (no hyper-extended knees or elbows, no sideways knees),
keeps hard-to-see joints (collars, hands, feet, twists) near rest, and penalises
everything else lightly.
"""

from __future__ import annotations

import torch

# (joint, axis) -> weight of a plain squared penalty on that component
_STIFF = {
    # collars barely move; hands and toes are rarely visible
    **{(j, a): 4.0 for j in (13, 14) for a in range(3)},
    **{(j, a): 3.0 for j in (10, 11, 22, 23) for a in range(3)},
    # knees: flex only
    **{(j, a): 6.0 for j in (4, 5) for a in (1, 2)},
    # elbows: flex about y; some pronation (x); no sideways bend (z)
    **{(j, 2): 6.0 for j in (18, 19)},
    **{(j, 0): 1.0 for j in (18, 19)},
    # limb twists about the bone are invisible in keypoints
    **{(j, 0): 1.0 for j in (16, 17)},
    **{(j, 1): 1.0 for j in (1, 2)},
    # the spine twists and bends little at each of its three joints
    **{(j, a): 2.0 for j in (3, 6, 9) for a in range(3)},
    # wrists and ankles
    **{(j, a): 1.0 for j in (7, 8, 20, 21) for a in range(3)},
}
_BASE = 0.2
_HINGE = 0.02


_WEIGHTS: dict = {}


def _weights(device, dtype) -> torch.Tensor:
    """(24, 3) the per-component weights (built once per device and type)."""
    key = (str(device), dtype)
    if key not in _WEIGHTS:
        _WEIGHTS[key] = _build_weights(device, dtype)
    return _WEIGHTS[key]


def _build_weights(device, dtype) -> torch.Tensor:
    w = torch.full((24, 3), _BASE, device=device, dtype=dtype)
    for (j, a), v in _STIFF.items():
        w[j, a] = v
    w[0] = 0.0  # the global orientation is free
    w[4, 0] = w[5, 0] = w[18, 1] = w[19, 1] = _HINGE  # knees and elbows flex freely
    return w


def pose_prior(pose: torch.Tensor) -> torch.Tensor:
    """Mean prior energy per frame; ``pose`` (T, 24, 3)."""
    return pose_prior_frames(pose).mean()


def pose_prior_frames(pose: torch.Tensor) -> torch.Tensor:
    """(T,) the prior energy of each frame; ``pose`` (T, 24, 3)."""
    w = _weights(pose.device, pose.dtype)
    energy = (w * pose * pose).sum((1, 2))
    # bending the wrong way: knees (x < 0), left elbow (y > 0), right elbow (y < 0)
    wrong = (
        torch.relu(-pose[:, 4, 0]) ** 2
        + torch.relu(-pose[:, 5, 0]) ** 2
        + torch.relu(pose[:, 18, 1]) ** 2
        + torch.relu(-pose[:, 19, 1]) ** 2
    )
    return energy + 30.0 * wrong


def shape_prior(betas: torch.Tensor) -> torch.Tensor:
    """Squared norm of the shape coefficients (unit variance each)."""
    return (betas * betas).sum()


def gmof(residual: torch.Tensor, sigma: float) -> torch.Tensor:
    """Geman-McClure robust penalty of a residual norm, ~r^2 near 0, -> sigma^2 far away."""
    r2 = residual * residual
    return sigma * sigma * r2 / (r2 + sigma * sigma)
