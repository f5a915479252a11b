"""The body fit's settings, apart from the fit itself so that reading them (the ``fit``
stage's config, ``ptx prepare --help``) does not import torch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FitConfig:
    rigid_iters: int = 40
    """Iterations of the rigid (placement) stage."""
    pose_iters: int = 120
    """Iterations on keypoints and priors."""
    silhouette_iters: int = 60
    """Iterations with the silhouette term (0 or no mask: skipped)."""
    lr: float = 0.04
    """Adam step size."""
    min_confidence: float = 0.2
    """Keypoints below this confidence are ignored."""
    robust_sigma: float = 0.04
    """Scale of the robust keypoint penalty (fraction of the frame size)."""
    start_sigma: float = 0.2
    """The robust scale at the start of the pose stage (it shrinks to ``robust_sigma``)."""
    w_pose: float = 1e-3
    """Weight of the pose prior."""
    w_shape: float = 1e-5
    """Weight of the shape prior."""
    w_smooth: float = 0.05
    """Weight of the temporal smoothness of the 3D joints."""
    w_silhouette: float = 30.0
    """Weight of the silhouette term."""
    silhouette_points: int = 400
    """Surface vertices projected for the silhouette term."""
    threads: int = 1
    """CPU threads torch may use while fitting (its many small operations run fastest on
    one; more threads mostly wait on each other, badly so on a busy machine)."""
    turn_cost: float = 0.003
    """Cost per radian the body turns between consecutive frames when choosing each
    frame's starting orientation (against flips from bad keypoints)."""
    settled: float = 0.0
    """A sequence stops moving in a stage once its energy fell by less than this fraction
    over its last ``settle_window`` iterations, and the stage ends when all have (0: always
    run every iteration). Each sequence of a batch stops as it would alone. Checked only
    after the robust scale has shrunk (70% of the pose stage) and from half of the
    silhouette stage. Off by default: at 1e-3 and 3e-4 no window of a real clip stopped
    (its energy still fell faster than that at the end of each stage), and fewer
    iterations cost quality there (pose 80 instead of 120: reprojection error +0.12 px)."""
    settle_window: int = 10
    """Iterations over which ``settled`` is measured."""
    silhouette_refresh: int = 2
    """Steps between searches of the vertex nearest to each mask outline point (1: every
    step; in between, each point is measured to the vertex it was matched with, as ICP
    does). Measured on a real clip (267 frames) and a synthetic subject: every 2nd step
    keeps the fit's quality within noise (reprojection 3.21 against 3.22 px, mask IoU
    0.7347 against 0.7355, part agreement 0.9430 against 0.9426); every 4th or 8th loses
    0.004-0.007 IoU."""
