"""Stage ``poselabel``: the 2D pose label of every canonical frame, uint8 (T, H, W, 3).

The skeleton drawn from ``keypoints`` the way OpenPose renders it (each limb in its own
colour, on black; ``ptx.body.skeleton.draw_skeleton``), with the line width scaled to the
canonical frame's long side. Together with ``label3d`` it is what the networks see of the pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ptx.body.skeleton import BODY_JOINTS, default_line_width, draw_skeleton
from ptx.cache.frame import as_shape
from ptx.pipeline.crop import CropBox
from ptx.pipeline.stage import Stage, StageContext


@dataclass
class PoseLabelConfig:
    line_width: int = 0
    """Limb thickness in canonical pixels (0: the long side / 128, 4 px at 512)."""
    min_confidence: float = 0.1
    """A limb is drawn only when both its joints have a higher confidence than this."""
    hands: bool = True
    """Draw the hands too when the keypoints carry them (K = 67)."""


def draw_labels(
    keypoints: np.ndarray,
    size: int | tuple[int, int],
    line_width: int = 0,
    min_confidence: float = 0.1,
) -> np.ndarray:
    """Pose labels uint8 (T, H, W, 3) for ``keypoints`` float (T, K, 3) in canonical pixels
    of a frame of ``size`` (H, W) (or the side of a square)."""
    shape = as_shape(size)
    width = line_width or default_line_width(*shape)
    return np.stack([draw_skeleton(kp, shape, width, min_confidence) for kp in keypoints])


class PoseLabelStage(Stage):
    name = "poselabel"
    version = 1
    Config = PoseLabelConfig
    inputs = ("keypoints",)
    outputs = ("poselabel",)

    def run(self, ctx: StageContext) -> None:
        cfg: PoseLabelConfig = ctx.config
        shape = CropBox.from_meta(ctx.store.meta("crop")).shape
        t_count = int(ctx.store.open_array("keypoints").shape[0])
        ctx.create_array("poselabel", (t_count, *shape, 3), np.uint8)
        chunk = ctx.chunk_frames
        for c in ctx.pending(-(-t_count // chunk), total_frames=t_count):
            a, b = c * chunk, min(t_count, (c + 1) * chunk)
            kp = ctx.read("keypoints", a, b)
            if not cfg.hands:
                kp = kp[:, :BODY_JOINTS]
            ctx.store.write(
                "poselabel", a, draw_labels(kp, shape, cfg.line_width, cfg.min_confidence)
            )
            ctx.commit(c, frames=b - a)
        ctx.set_meta(
            size=max(shape),
            height=shape[0],
            width=shape[1],
            line_width=cfg.line_width or default_line_width(*shape),
        )
