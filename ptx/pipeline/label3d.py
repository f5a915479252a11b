"""Stage ``label3d``: the 3-channel 3D pose label of every canonical frame.

Output ``label3d`` uint8 (T, H, W, 3): camera-space surface normals of the fitted body,
as a normal map (x right, y up, z towards the viewer; ``round(127.5 * (n + 1))``, 1..255;
0 = background). Why normals: see ``ptx.body.render``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ptx.pipeline.iuv import BODY_INPUTS, render_stage
from ptx.pipeline.stage import Stage, StageContext


@dataclass
class Label3dConfig:
    """No settings: the label follows from the fit."""


class Label3dStage(Stage):
    name = "label3d"
    version = 1
    Config = Label3dConfig
    inputs = BODY_INPUTS
    outputs = ("label3d",)

    @classmethod
    def preload(cls, config: Label3dConfig) -> tuple[str, ...]:
        return ("torch", "ptx.body.render")

    def run(self, ctx: StageContext) -> None:
        render_stage(ctx, "label3d")
