"""The evaluation metrics of ``ptx score`` (the paper's Table 1 and more), as plain functions.

- :mod:`ptx.metrics.image`: SSIM and PSNR per frame, whole frame and person only.
- :mod:`ptx.metrics.robust`: the challenging held-out poses (R-SSIM, R-PSNR frames).
- :mod:`ptx.metrics.temporal`: temporal error E_temp along the real frames' flow.
- :mod:`ptx.metrics.keypoints`: AKD and MKR between output and real keypoints.
- :mod:`ptx.metrics.perceptual`: LPIPS and FID, None with a reason without their weights.
- :mod:`ptx.metrics.report`: the challenging-pose strip and the per-frame PSNR plot.

Each module's docstring fixes its exact definitions (scales, caps, masks).
"""

from ptx.metrics.image import PSNR_CAP_DB, FrameScores, frame_scores, psnr_frames, ssim_frames
from ptx.metrics.keypoints import KeypointErrors, keypoint_errors
from ptx.metrics.perceptual import OptionalScore, fid_score, lpips_score
from ptx.metrics.robust import ChallengingFrames, challenging_frames, nearest_pose_distances
from ptx.metrics.temporal import TemporalErrors, temporal_errors

__all__ = [
    "PSNR_CAP_DB",
    "ChallengingFrames",
    "FrameScores",
    "KeypointErrors",
    "OptionalScore",
    "TemporalErrors",
    "challenging_frames",
    "fid_score",
    "frame_scores",
    "keypoint_errors",
    "lpips_score",
    "nearest_pose_distances",
    "psnr_frames",
    "ssim_frames",
    "temporal_errors",
]
