"""What each built-in stage reads, writes and which version its code is, without importing
the stages (they bring torch, MediaPipe, numba and OpenCV): `ptx status` answers from this
table in a fraction of a second. ``ptx.pipeline.registry`` holds the stage classes;
tests/pipeline/test_catalog.py checks that the two agree, so a stage whose version,
inputs or outputs change is updated here too.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "source"
"""The pseudo-input of stages that read the source video itself (``ptx.pipeline.stage``)."""


@dataclass(frozen=True)
class StageInfo:
    version: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


_BODY = ("body/pose", "body/transl", "body/camera", "body/shape")

CATALOG: dict[str, StageInfo] = {
    "extract": StageInfo(1, (SOURCE,), ("frames_analysis",)),
    "keypoints": StageInfo(
        2,
        ("frames_analysis",),
        (
            "keypoints_analysis",
            "keypoints_raw",
            "person_found",
            "people_seen",
            "segmentation_analysis",
        ),
    ),
    "crop": StageInfo(3, (SOURCE, "keypoints_analysis"), ("frames", "keypoints")),
    "mask": StageInfo(1, ("frames", "keypoints", "segmentation_analysis"), ("mask",)),
    "poselabel": StageInfo(1, ("keypoints",), ("poselabel",)),
    "fit": StageInfo(
        3,
        ("keypoints", "mask"),
        ("body/pose", "body/transl", "body/camera", "body/keypoints", "body/error", "body/shape"),
    ),
    "iuv": StageInfo(1, _BODY, ("iuv",)),
    "label3d": StageInfo(1, _BODY, ("label3d",)),
    "background": StageInfo(
        1,
        ("frames", "mask"),
        ("background", "background_seen", "background_blocks", "background_blocks_seen"),
    ),
    "flow": StageInfo(1, ("frames",), ("flow", "flow_valid")),
}
"""The stages in the order `ptx prepare` runs them (the order of ``registry.STAGES``)."""


def producers() -> dict[str, str]:
    """Array name -> the stage that writes it."""
    return {out: name for name, info in CATALOG.items() for out in info.outputs}
