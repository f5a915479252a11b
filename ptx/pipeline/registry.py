"""The built-in stages, in the order `ptx prepare` runs them.

Adding a stage means adding its module and one line here; nothing registers itself by
being imported.
"""

from __future__ import annotations

from ptx.pipeline.background import BackgroundStage
from ptx.pipeline.crop import CropStage
from ptx.pipeline.extract import ExtractStage
from ptx.pipeline.fit import FitStage
from ptx.pipeline.flow import FlowStage
from ptx.pipeline.iuv import IuvStage
from ptx.pipeline.keypoints import KeypointsStage
from ptx.pipeline.label3d import Label3dStage
from ptx.pipeline.mask import MaskStage
from ptx.pipeline.poselabel import PoseLabelStage
from ptx.pipeline.stage import Stage

STAGES: dict[str, type[Stage]] = {
    "extract": ExtractStage,
    "keypoints": KeypointsStage,
    "crop": CropStage,
    "mask": MaskStage,
    "poselabel": PoseLabelStage,
    "fit": FitStage,
    "iuv": IuvStage,
    "label3d": Label3dStage,
    "background": BackgroundStage,
    "flow": FlowStage,
}


def producers() -> dict[str, str]:
    """Array name -> the stage that writes it."""
    return {out: name for name, cls in STAGES.items() for out in cls.outputs}
